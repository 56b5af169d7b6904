#include "volt/data/sampling.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "volt/core/check.h"

namespace volt::data {

uint64_t Rng::next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t Rng::below(uint64_t n) {
  // Lemire (2019): the high half of a 64x64-bit product is uniform once the low half clears the
  // threshold 2^64 mod n.
  unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
  auto low = static_cast<uint64_t>(m);
  if (low < n) {
    const uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      m = static_cast<unsigned __int128>(next()) * n;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

uint64_t derive_seed(uint64_t seed, uint64_t stream, uint64_t index) {
  Rng a(seed ^ (stream * 0xd1b54a32d192ed03ULL));
  Rng b(a.next() ^ (index * 0xabc98388fb8fac03ULL));
  return b.next();
}

std::vector<int64_t> permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), 0);
  Rng rng(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(rng.below(static_cast<uint64_t>(i + 1)));
    std::swap(p[static_cast<size_t>(i)], p[static_cast<size_t>(j)]);
  }
  return p;
}

DocumentSplits split_documents(int64_t n, SplitFractions f, uint64_t seed) {
  VOLT_CHECK(f.val >= 0 && f.test >= 0 && f.val + f.test < 1, "[data] val_fraction ", f.val,
             " and test_fraction ", f.test, " must be >= 0 and leave documents for training");
  auto count = [n](double fraction) {
    if (fraction <= 0) return int64_t{0};
    return std::max<int64_t>(1, std::llround(fraction * static_cast<double>(n)));
  };
  const int64_t n_val = count(f.val), n_test = count(f.test);
  VOLT_CHECK(n - n_val - n_test >= 1, "[data] ", n, " document", n == 1 ? "" : "s",
             " cannot be split into train / val / test (val_fraction ", f.val, ", test_fraction ",
             f.test, "): each split needs at least one document");
  const auto perm = permutation(n, seed);
  DocumentSplits s;
  s.val.assign(perm.begin(), perm.begin() + n_val);
  s.test.assign(perm.begin() + n_val, perm.begin() + n_val + n_test);
  s.train.assign(perm.begin() + n_val + n_test, perm.end());
  // Increasing order keeps documents in corpus order inside a split (reads stay sequential).
  for (auto* v : {&s.train, &s.val, &s.test}) std::sort(v->begin(), v->end());
  return s;
}

std::vector<Piece> chunk_documents(const std::vector<int64_t>& docs,
                                   const std::function<int64_t(int64_t)>& doc_length,
                                   int64_t max_len) {
  VOLT_CHECK(max_len >= 2, "[data] pieces need at least 2 tokens, got max_len ", max_len);
  std::vector<Piece> pieces;
  const int64_t stride = max_len - 1;
  for (const int64_t d : docs) {
    const int64_t n = doc_length(d);
    for (int64_t begin = 0; n - begin >= 2; begin += stride) {
      pieces.push_back({d, begin, std::min(max_len, n - begin)});
    }
  }
  return pieces;
}

std::vector<Row> one_piece_per_row(const std::vector<Piece>& pieces) {
  std::vector<Row> rows;
  rows.reserve(pieces.size());
  for (const auto& p : pieces) rows.push_back({{p}, p.length - 1});
  return rows;
}

std::vector<Row> pack_best_fit_decreasing(const std::vector<Piece>& pieces, int64_t capacity) {
  std::vector<size_t> order(pieces.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return pieces[a].length > pieces[b].length; });
  std::vector<Row> rows;
  std::multimap<int64_t, size_t> open;  // free positions -> row; equal keys stay in insertion order
  for (const size_t i : order) {
    const Piece& p = pieces[i];
    const int64_t need = p.length - 1;
    VOLT_CHECK(need <= capacity, "[data] a piece of ", p.length, " tokens does not fit a row of ",
               capacity, " positions");
    size_t row;
    int64_t free_after;
    const auto it = open.lower_bound(need);  // the tightest row it fits in
    if (it != open.end()) {
      row = it->second;
      free_after = it->first - need;
      open.erase(it);
    } else {
      row = rows.size();
      rows.emplace_back();
      free_after = capacity - need;
    }
    rows[row].pieces.push_back(p);
    rows[row].inputs += need;
    if (free_after > 0) open.emplace(free_after, row);
  }
  return rows;
}

std::vector<Row> concatenate_and_chunk(const std::vector<int64_t>& docs,
                                       const std::function<int64_t(int64_t)>& doc_length,
                                       int64_t capacity) {
  VOLT_CHECK(capacity >= 1, "[data] rows need at least one position, got ", capacity);
  std::vector<Row> rows;
  Row row;
  int64_t row_tokens = 0;  // tokens gathered for the current row (it wants capacity + 1)
  for (const int64_t d : docs) {
    const int64_t n = doc_length(d);
    int64_t begin = 0;
    while (begin < n) {
      const int64_t take = std::min(n - begin, capacity + 1 - row_tokens);
      Piece* back = row.pieces.empty() ? nullptr : &row.pieces.back();
      if (back && back->doc == d && back->begin + back->length == begin) {
        back->length += take;  // the carried-over token continues its document
      } else {
        row.pieces.push_back({d, begin, take});
      }
      row_tokens += take;
      begin += take;
      if (row_tokens == capacity + 1) {
        row.inputs = capacity;
        // The next row starts with this row's last token (it was only a label here).
        const Piece last = row.pieces.back();
        rows.push_back(std::move(row));
        row = Row{};
        row.pieces.push_back({last.doc, last.begin + last.length - 1, 1});
        row_tokens = 1;
      }
    }
  }
  // The stream's tail: kept if it predicts anything (a piece of 2+ tokens holds a label).
  const bool has_label = std::any_of(row.pieces.begin(), row.pieces.end(),
                                     [](const Piece& p) { return p.length >= 2; });
  if (row_tokens >= 2 && has_label) {
    row.inputs = row_tokens - 1;
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<std::vector<int64_t>> epoch_batches(const std::vector<int64_t>& lengths,
                                                const SamplerOptions& o, int64_t epoch) {
  VOLT_CHECK(o.batch_size > 0, "[data] batch_size must be positive, got ", o.batch_size);
  const auto n = static_cast<int64_t>(lengths.size());
  constexpr uint64_t kShuffleStream = 2;
  std::vector<int64_t> order;
  if (o.shuffle) {
    order = permutation(n, derive_seed(o.seed, kShuffleStream, static_cast<uint64_t>(epoch)));
  } else {
    order.resize(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), int64_t{0});
  }
  auto longer = [&](int64_t a, int64_t b) {
    return lengths[static_cast<size_t>(a)] > lengths[static_cast<size_t>(b)];
  };
  if (o.group_by_length) {
    const int64_t mega = o.batch_size * std::max<int64_t>(1, o.mega_batch_factor);
    for (int64_t s = 0; s < n; s += mega) {
      std::stable_sort(order.begin() + s, order.begin() + std::min(n, s + mega), longer);
    }
  }
  std::vector<std::vector<int64_t>> batches;
  for (int64_t s = 0; s < n; s += o.batch_size) {
    const int64_t e = std::min(n, s + o.batch_size);
    if (o.drop_last && e - s < o.batch_size) break;
    batches.emplace_back(order.begin() + s, order.begin() + e);
  }
  if (o.group_by_length && !batches.empty()) {
    size_t longest = 0;
    int64_t best = -1;
    for (size_t b = 0; b < batches.size(); ++b) {
      if (lengths[static_cast<size_t>(batches[b][0])] > best) {
        best = lengths[static_cast<size_t>(batches[b][0])];
        longest = b;
      }
    }
    std::swap(batches[0], batches[longest]);
  }
  return batches;
}

PaddingStats padding_stats(const std::vector<int64_t>& lengths,
                           const std::vector<std::vector<int64_t>>& batches, int64_t pad_to) {
  PaddingStats s;
  for (const auto& b : batches) {
    int64_t longest = 0, tokens = 0;
    for (const int64_t r : b) {
      longest = std::max(longest, lengths[static_cast<size_t>(r)]);
      tokens += lengths[static_cast<size_t>(r)];
    }
    ++s.batches;
    s.rows += static_cast<int64_t>(b.size());
    s.tokens += tokens;
    s.positions += (pad_to > 0 ? pad_to : longest) * static_cast<int64_t>(b.size());
  }
  return s;
}

}  // namespace volt::data
