// Packed rows: several documents back to back in one row, position ids restarting at 0 for each
// and document ids keeping them from attending to each other. The model must then give every
// document exactly the per-token loss (and gradient) it gets when run alone:
//   O = softmax(Q K^T / sqrt(d) + M) V,  M_ij = -inf unless start(i) <= j <= i
// Checked on both CPU attention paths: float32 takes the fused kernel (nn/cpu_attention.h), and
// float64 the explicit masked softmax (the fused kernel is float32 only).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "test_util.h"
#include "volt/core/check.h"
#include "volt/data/batch.h"
#include "volt/models/causal_lm.h"
#include "volt/models/model_config.h"
#include "volt/nn/cpu_attention.h"
#include "volt/train/lm_module.h"

namespace volt {
namespace {

using test::error_of;
using Row = std::vector<torch::Tensor>;  // the documents of one row, each (L) int64 tokens

ModelConfig tiny() {
  auto c = ModelConfig::preset("babygpt-tiny");
  c.vocab_size = 65;
  return c;
}

CausalLM make_model(torch::Dtype dtype) {
  torch::manual_seed(0);
  CausalLM m(tiny());
  m->to(dtype);
  m->eval();
  return m;
}

Row random_docs(const std::vector<int64_t>& lengths, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  Row docs;
  for (int64_t len : lengths) docs.push_back(torch::randint(0, 65, {len}, gen, torch::kLong));
  return docs;
}

// A batch of packed rows of length t: per document inputs tokens[0..L-2] and labels
// tokens[1..L-1], positions 0..L-2 and its index as document id; then padding to t, a document
// of its own (id -1) without loss.
Batch pack(const std::vector<Row>& rows, int64_t t) {
  std::vector<int64_t> ids, labels, positions, documents;
  for (const auto& row : rows) {
    int64_t used = 0;
    for (size_t d = 0; d < row.size(); ++d) {
      const int64_t n = row[d].size(0) - 1;
      auto tok = row[d].accessor<int64_t, 1>();
      for (int64_t i = 0; i < n; ++i) {
        ids.push_back(tok[i]);
        labels.push_back(tok[i + 1]);
        positions.push_back(i);
        documents.push_back(static_cast<int64_t>(d));
      }
      used += n;
    }
    EXPECT_LE(used, t) << "the documents do not fit the row";
    for (int64_t i = 0; used + i < t; ++i) {
      ids.push_back(0);
      labels.push_back(-100);
      positions.push_back(i);
      documents.push_back(-1);
    }
  }
  const int64_t b = static_cast<int64_t>(rows.size());
  Batch batch;
  batch.input_ids = torch::tensor(ids, torch::kLong).view({b, t});
  batch.labels = torch::tensor(labels, torch::kLong).view({b, t});
  batch.position_ids = torch::tensor(positions, torch::kLong).view({b, t});
  batch.document_ids = torch::tensor(documents, torch::kLong).view({b, t});
  return batch;
}

// Cross-entropy per token, (B, T); 0 where the label is -100.
torch::Tensor per_token_loss(const torch::Tensor& logits, const torch::Tensor& labels) {
  const int64_t v = logits.size(-1);
  namespace F = torch::nn::functional;
  return F::cross_entropy(logits.reshape({-1, v}), labels.reshape({-1}),
                          F::CrossEntropyFuncOptions().ignore_index(-100).reduction(torch::kNone))
      .view(labels.sizes());
}

// The document alone: a batch of one, positions 0..L-2 (the default). Returns (L - 1).
torch::Tensor alone_loss(CausalLM& m, const torch::Tensor& doc) {
  const int64_t n = doc.size(0) - 1;
  auto logits = m->forward(doc.narrow(0, 0, n).unsqueeze(0));
  return per_token_loss(logits, doc.narrow(0, 1, n).unsqueeze(0)).squeeze(0);
}

// For every document of every row, the largest |packed - alone| of its per-token losses. Without
// document ids the row keeps its restarting positions but attends across documents.
std::vector<std::vector<double>> loss_gaps(CausalLM& m, const std::vector<Row>& rows,
                                           bool use_document_ids) {
  torch::NoGradGuard no_grad;
  const auto batch = pack(rows, 48);
  auto docs = use_document_ids ? batch.document_ids : torch::Tensor();
  auto packed = per_token_loss(m->forward(batch.input_ids, batch.position_ids, nullptr, docs),
                               batch.labels);  // (B, T)
  std::vector<std::vector<double>> gaps(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    int64_t offset = 0;
    for (const auto& doc : rows[r]) {
      auto alone = alone_loss(m, doc);
      auto mine = packed[static_cast<int64_t>(r)].narrow(0, offset, alone.size(0));
      gaps[r].push_back((mine - alone).abs().max().item<double>());
      offset += alone.size(0);
    }
    auto padding = packed[static_cast<int64_t>(r)].narrow(0, offset, 48 - offset);
    EXPECT_EQ(padding.abs().sum().item<double>(), 0.0);  // no loss
  }
  return gaps;
}

void expect_each_document_as_if_alone(torch::Dtype dtype) {
  auto m = make_model(dtype);
  const std::vector<Row> rows = {random_docs({7, 20, 12}, 1)};  // 36 inputs + 12 padding
  const auto gaps = loss_gaps(m, rows, true);
  for (size_t d = 0; d < 3; ++d) EXPECT_LE(gaps[0][d], 1e-5) << "document " << d << " " << dtype;

  // The test can fail: restarting positions alone do not isolate the documents. The first one
  // only sees itself either way; the later ones see their predecessors.
  const auto leaky = loss_gaps(m, rows, false);
  EXPECT_LE(leaky[0][0], 1e-5) << dtype;
  EXPECT_GT(leaky[0][1], 1e-3) << dtype;
  EXPECT_GT(leaky[0][2], 1e-3) << dtype;
}

TEST(PackedAttention, FusedKernelGivesEachDocumentItsAloneLoss) {
  ASSERT_TRUE(nn::cpu_fused_attention_available(torch::zeros({1}))) << "no CBLAS sgemm found";
  expect_each_document_as_if_alone(torch::kFloat32);
}

TEST(PackedAttention, ExplicitPathGivesEachDocumentItsAloneLoss) {
  ASSERT_FALSE(nn::cpu_fused_attention_available(torch::zeros({1}, torch::kFloat64)));
  expect_each_document_as_if_alone(torch::kFloat64);
}

TEST(PackedAttention, BatchOfTwoRowsWithDifferentLayouts) {
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    auto m = make_model(dtype);
    // Row 1 has a document of a single input token and leaves only 8 tokens of padding.
    const std::vector<Row> rows = {random_docs({7, 20, 12}, 2), random_docs({25, 2, 16}, 3)};
    const auto gaps = loss_gaps(m, rows, true);
    for (size_t r = 0; r < rows.size(); ++r) {
      for (size_t d = 0; d < rows[r].size(); ++d) {
        EXPECT_LE(gaps[r][d], 1e-5) << "row " << r << ", document " << d << " " << dtype;
      }
    }
  }
}

// With the packed loss the sum of its per-token losses, its gradient with respect to every
// parameter is the sum of the documents' gradients alone.
TEST(PackedAttention, GradientIsTheSumOfPerDocumentGradients) {
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    auto m = make_model(dtype);
    const Row docs = random_docs({7, 20, 12}, 4);
    const auto batch = pack({docs}, 48);
    per_token_loss(m->forward(batch.input_ids, batch.position_ids, nullptr, batch.document_ids),
                   batch.labels)
        .sum()
        .backward();
    std::vector<torch::Tensor> packed;
    for (const auto& p : m->parameters()) packed.push_back(p.grad().clone());
    m->zero_grad();
    for (const auto& doc : docs) alone_loss(m, doc).sum().backward();  // accumulates
    const auto params = m->named_parameters();
    for (size_t i = 0; i < params.size(); ++i) {
      const auto& want = params[i].value().grad();
      const double rel = (packed[i] - want).norm().item<double>() / want.norm().item<double>();
      EXPECT_LE(rel, 1e-5) << params[i].key() << " " << dtype;
    }
  }
}

TEST(PackedAttention, OneDocumentPerRowIsPlainCausal) {
  auto m = make_model(torch::kFloat32);
  torch::NoGradGuard no_grad;
  auto ids = torch::randint(0, 65, {2, 16}, torch::kLong);
  auto same = torch::full({2, 16}, 5, torch::kLong);
  EXPECT_LE((m->forward(ids, {}, nullptr, same) - m->forward(ids)).abs().max().item<double>(),
            1e-6);
}

TEST(PackedAttention, RejectsBadDocumentIds) {
  auto m = make_model(torch::kFloat32);
  torch::NoGradGuard no_grad;
  auto ids = torch::zeros({1, 8}, torch::kLong);
  const std::string shape = error_of([&] {
    m->forward(ids, {}, nullptr, torch::zeros({1, 7}, torch::kLong));
  });
  EXPECT_NE(shape.find("[model] document_ids must be (B, T) like input_ids, got [1, 7]"),
            std::string::npos) << shape;
  EXPECT_NE(error_of([&] { m->forward(ids, {}, nullptr, torch::zeros({8}, torch::kLong)); })
                .find("document_ids must be (B, T)"),
            std::string::npos);
  auto cache = m->make_cache(1, 16);
  const std::string cached = error_of([&] {
    m->forward(ids, {}, &cache, torch::zeros({1, 8}, torch::kLong));
  });
  EXPECT_NE(cached.find("cannot be combined with a KV cache"), std::string::npos) << cached;
  EXPECT_EQ(cache.length, 0);  // rejected before anything was written
}

// LMModule's steps pass the batch's document ids to the model.
TEST(PackedAttention, LMModuleTrainingStepUsesDocumentIds) {
  torch::manual_seed(0);
  LMModule module(tiny(), AdamWOptions(), nullptr, nullptr);
  module.eval();
  torch::NoGradGuard no_grad;
  auto batch = pack({random_docs({7, 20, 12}, 5)}, 48);
  auto& lm = module.lm;
  const double want = causal_lm_loss(lm(batch.input_ids, batch.position_ids, nullptr,
                                        batch.document_ids), batch.labels).item<double>();
  const double leaky = causal_lm_loss(lm(batch.input_ids, batch.position_ids), batch.labels)
                           .item<double>();
  EXPECT_DOUBLE_EQ(module.training_step(batch, 0).item<double>(), want);
  EXPECT_GT(std::abs(want - leaky), 1e-4);
}

}  // namespace
}  // namespace volt
