#include "volt/data/collate.h"

#include <algorithm>

#include "volt/core/check.h"

namespace volt::data {

Batch collate(const std::vector<const Row*>& rows, const TokenCache& tokens, const CollateOptions& o) {
  VOLT_CHECK(!rows.empty(), "[data] cannot collate an empty batch");
  int64_t t = o.pad_to;
  if (t == 0) {
    for (const Row* r : rows) t = std::max(t, r->inputs);
  }
  const auto b = static_cast<int64_t>(rows.size());
  auto opts = torch::TensorOptions().dtype(torch::kLong);
  Batch batch;
  batch.input_ids = torch::full({b, t}, o.pad_id, opts);
  batch.labels = torch::full({b, t}, -100, opts);
  if (o.document_ids) {
    batch.position_ids = torch::zeros({b, t}, opts);
    batch.document_ids = torch::full({b, t}, -1, opts);
  }
  std::vector<int64_t> buf;
  for (int64_t i = 0; i < b; ++i) {
    const Row& row = *rows[static_cast<size_t>(i)];
    VOLT_CHECK(row.inputs <= t, "[data] a row of ", row.inputs, " positions does not fit ", t);
    int64_t* in = batch.input_ids.data_ptr<int64_t>() + i * t;
    int64_t* lab = batch.labels.data_ptr<int64_t>() + i * t;
    int64_t* pos = o.document_ids ? batch.position_ids.data_ptr<int64_t>() + i * t : nullptr;
    int64_t* doc = o.document_ids ? batch.document_ids.data_ptr<int64_t>() + i * t : nullptr;
    int64_t at = 0;  // next position of the row
    for (size_t k = 0; k < row.pieces.size(); ++k) {
      const Piece& p = row.pieces[k];
      buf.resize(static_cast<size_t>(p.length));
      tokens.read(p.doc, p.begin, p.length, buf.data());
      // Separate: L - 1 positions. Stream: every token is an input except the row's very last.
      const bool last = k + 1 == row.pieces.size();
      const int64_t n = o.layout == RowLayout::kSeparate || last ? p.length - 1 : p.length;
      for (int64_t j = 0; j < n; ++j) {
        in[at + j] = buf[static_cast<size_t>(j)];
        // A label exists inside the piece only: the stream's boundary token predicts nothing.
        lab[at + j] = j + 1 < p.length ? buf[static_cast<size_t>(j + 1)] : -100;
        if (pos) pos[at + j] = j;
        if (doc) doc[at + j] = static_cast<int64_t>(k);
      }
      at += n;
    }
    VOLT_CHECK(at == row.inputs, "[data] internal: a row filled ", at, " positions, planned ", row.inputs);
  }
  return batch;
}

}  // namespace volt::data
