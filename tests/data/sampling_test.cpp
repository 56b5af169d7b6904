// The data pipeline's arithmetic: the generator's fixed output, splits, pieces, packing, batches
// and padding. Expected values are worked out by hand or by a brute-force check beside each.
#include "volt/data/sampling.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include "test_util.h"

namespace volt::data {
namespace {

using test::error_of;

TEST(Sampling, SplitMix64MatchesTheReferenceOutput) {
  // The reference C code's first outputs from seed 0 (Vigna's splitmix64.c): the generator is
  // defined bit for bit, so the same config shuffles the same way on every machine.
  Rng r(0);
  EXPECT_EQ(r.next(), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(r.next(), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(r.next(), 0x06c45d188009454fULL);
}

TEST(Sampling, BelowIsInRangeAndRoughlyUniform) {
  Rng r(42);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 70000; ++i) ++counts[r.below(7)];
  for (int c : counts) EXPECT_NEAR(c, 10000, 500);
}

TEST(Sampling, PermutationIsAPermutationAndDependsOnTheSeed) {
  auto p = permutation(1000, 7);
  auto sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_EQ(p, permutation(1000, 7));
  EXPECT_NE(p, permutation(1000, 8));
  EXPECT_NE(derive_seed(1, 2, 0), derive_seed(1, 2, 1));
  EXPECT_NE(derive_seed(1, 2, 0), derive_seed(1, 3, 0));
}

TEST(Sampling, SplitsAreDisjointCompleteAndReproducible) {
  const auto s = split_documents(100, {0.1, 0.05}, 1337);
  EXPECT_EQ(s.val.size(), 10u);
  EXPECT_EQ(s.test.size(), 5u);
  EXPECT_EQ(s.train.size(), 85u);
  std::set<int64_t> all(s.train.begin(), s.train.end());
  all.insert(s.val.begin(), s.val.end());
  all.insert(s.test.begin(), s.test.end());
  EXPECT_EQ(all.size(), 100u);
  EXPECT_TRUE(std::is_sorted(s.val.begin(), s.val.end()));
  const auto again = split_documents(100, {0.1, 0.05}, 1337);
  EXPECT_EQ(again.val, s.val);
  EXPECT_NE(split_documents(100, {0.1, 0.05}, 1338).val, s.val);
  // A small positive fraction still gets a document; too few documents is an error.
  EXPECT_EQ(split_documents(5, {0.01, 0.0}, 1).val.size(), 1u);
  EXPECT_NE(error_of([] { split_documents(2, {0.4, 0.4}, 1); }).find("each split needs"),
            std::string::npos);
  EXPECT_NE(error_of([] { split_documents(10, {0.6, 0.5}, 1); }).find("val_fraction"),
            std::string::npos);
}

TEST(Sampling, ChunksOverlapByOneSoEveryTokenIsALabelOnce) {
  const std::vector<int64_t> lengths = {1, 2, 5, 9, 10};
  auto len = [&](int64_t d) { return lengths[d]; };
  const auto pieces = chunk_documents({0, 1, 2, 3, 4}, len, 5);  // T = 4
  // doc 0: nothing; doc 1: [0,2); doc 2: [0,5); doc 3: [0,5) [4,9); doc 4: [0,5) [4,9) [8,10).
  std::vector<std::tuple<int64_t, int64_t, int64_t>> got;
  for (const auto& p : pieces) got.emplace_back(p.doc, p.begin, p.length);
  EXPECT_EQ(got, (std::vector<std::tuple<int64_t, int64_t, int64_t>>{
                     {1, 0, 2}, {2, 0, 5}, {3, 0, 5}, {3, 4, 5}, {4, 0, 5}, {4, 4, 5}, {4, 8, 2}}));
  // Labels: tokens 1 .. n-1 of each document, each exactly once.
  std::map<int64_t, std::vector<int64_t>> labels;
  for (const auto& p : pieces) {
    for (int64_t i = 1; i < p.length; ++i) labels[p.doc].push_back(p.begin + i);
  }
  for (int64_t d = 1; d < 5; ++d) {
    std::vector<int64_t> want(lengths[d] - 1);
    std::iota(want.begin(), want.end(), 1);
    EXPECT_EQ(labels[d], want) << "doc " << d;
  }
}

TEST(Sampling, BestFitDecreasingPacksTightlyAndKeepsEveryPiece) {
  // Needs (length - 1): 7, 5, 4, 3, 3, 2, 1 into rows of 8. BFD: [7,1] [5,3] [4,3] [2] -> then
  // 2 goes to the tightest fitting row: rows free 0, 0, 1, ... -> new row only if nothing fits.
  std::vector<Piece> pieces;
  for (int64_t need : {3, 7, 2, 5, 1, 4, 3}) pieces.push_back({need, 0, need + 1});
  const auto rows = pack_best_fit_decreasing(pieces, 8);
  int64_t filled = 0;
  std::multiset<int64_t> seen;
  for (const auto& r : rows) {
    int64_t sum = 0;
    for (const auto& p : r.pieces) {
      sum += p.length - 1;
      seen.insert(p.doc);
    }
    EXPECT_EQ(sum, r.inputs);
    EXPECT_LE(r.inputs, 8);
    filled += r.inputs;
  }
  EXPECT_EQ(filled, 25);
  EXPECT_EQ(seen, (std::multiset<int64_t>{1, 2, 3, 3, 4, 5, 7}));
  EXPECT_EQ(rows.size(), 4u);  // ceil(25 / 8) = 4: optimal here
  EXPECT_EQ(rows[0].inputs, 8);  // 7 + 1
  EXPECT_NE(error_of([] { pack_best_fit_decreasing({{0, 0, 10}}, 8); }).find("does not fit"),
            std::string::npos);
}

TEST(Sampling, BestFitDecreasingIsNearOptimalOnRandomPieces) {
  Rng r(5);
  std::vector<Piece> pieces;
  int64_t total = 0;
  for (int i = 0; i < 2000; ++i) {
    const auto need = static_cast<int64_t>(1 + r.below(1024));
    pieces.push_back({i, 0, need + 1});
    total += need;
  }
  const auto rows = pack_best_fit_decreasing(pieces, 1024);
  const double lower_bound = std::ceil(static_cast<double>(total) / 1024.0);
  EXPECT_LE(static_cast<double>(rows.size()), lower_bound * 1.02);
}

TEST(Sampling, ConcatenateAndChunkCutsOneStreamIntoOverlappingRows) {
  const std::vector<int64_t> lengths = {3, 4, 2};  // a stream of 9 tokens
  auto len = [&](int64_t d) { return lengths[d]; };
  const auto rows = concatenate_and_chunk({0, 1, 2}, len, 4);
  // Rows hold stream tokens [0,5) and [4,9): inputs 4 and 4.
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].inputs, 4);
  EXPECT_EQ(rows[1].inputs, 4);
  ASSERT_EQ(rows[0].pieces.size(), 2u);
  EXPECT_EQ(rows[0].pieces[1].doc, 1);
  EXPECT_EQ(rows[0].pieces[1].length, 2);
  // The second row starts with the first row's last token (doc 1, token 1), as one piece with
  // the rest of doc 1: a row never splits a document into two pieces.
  ASSERT_EQ(rows[1].pieces.size(), 2u);
  EXPECT_EQ(rows[1].pieces[0].doc, 1);
  EXPECT_EQ(rows[1].pieces[0].begin, 1);
  EXPECT_EQ(rows[1].pieces[0].length, 3);
  EXPECT_EQ(rows[1].pieces.back().doc, 2);
  // A stream of 10 tokens leaves a short last row of 1 input.
  const std::vector<int64_t> ten = {10};
  const auto r2 = concatenate_and_chunk({0}, [&](int64_t d) { return ten[d]; }, 3);
  ASSERT_EQ(r2.size(), 3u);
  EXPECT_EQ(r2[2].inputs, 3);
  const auto r3 = concatenate_and_chunk({0}, [&](int64_t d) { return ten[d]; }, 4);
  ASSERT_EQ(r3.size(), 3u);
  EXPECT_EQ(r3[2].inputs, 1);
  // A tail of one-token documents predicts nothing (every label would cross a document): no row,
  // rather than a batch whose loss is the mean over zero labels.
  const std::vector<int64_t> tail = {5, 1, 1};
  const auto r4 = concatenate_and_chunk({0, 1, 2}, [&](int64_t d) { return tail[d]; }, 4);
  ASSERT_EQ(r4.size(), 1u);
  EXPECT_EQ(r4[0].inputs, 4);
}

TEST(Sampling, EpochBatchesAreReproducibleAndDifferPerEpoch) {
  std::vector<int64_t> lengths(103);
  for (size_t i = 0; i < lengths.size(); ++i) lengths[i] = static_cast<int64_t>((i * 37) % 101 + 1);
  SamplerOptions o;
  o.batch_size = 8;
  o.seed = 3;
  const auto e0 = epoch_batches(lengths, o, 0);
  EXPECT_EQ(e0.size(), 13u);  // 12 full + 1 of 7
  EXPECT_EQ(e0.back().size(), 7u);
  EXPECT_EQ(e0, epoch_batches(lengths, o, 0));
  EXPECT_NE(e0, epoch_batches(lengths, o, 1));
  std::set<int64_t> all;
  for (const auto& b : e0) all.insert(b.begin(), b.end());
  EXPECT_EQ(all.size(), 103u);
  o.drop_last = true;
  EXPECT_EQ(epoch_batches(lengths, o, 0).size(), 12u);
  o.drop_last = false;
  o.shuffle = false;
  EXPECT_EQ(epoch_batches(lengths, o, 5)[0], (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(Sampling, LengthGroupingCutsDynamicPaddingAndPutsTheLongestBatchFirst) {
  Rng r(11);
  std::vector<int64_t> lengths(4000);
  for (auto& l : lengths) l = static_cast<int64_t>(1 + r.below(1024));
  SamplerOptions o;
  o.batch_size = 8;
  o.seed = 1;
  const auto random = padding_stats(lengths, epoch_batches(lengths, o, 0), 0);
  o.group_by_length = true;
  const auto grouped_batches = epoch_batches(lengths, o, 0);
  const auto grouped = padding_stats(lengths, grouped_batches, 0);
  EXPECT_EQ(random.tokens, grouped.tokens);
  EXPECT_GT(random.padding_fraction(), 0.3);
  EXPECT_LT(grouped.padding_fraction(), 0.05);
  EXPECT_EQ(lengths[grouped_batches[0][0]], *std::max_element(lengths.begin(), lengths.end()));
}

TEST(Sampling, PaddingStatsCountPositionsAndTokens) {
  const std::vector<int64_t> lengths = {4, 2, 3, 1};
  const std::vector<std::vector<int64_t>> batches = {{0, 1}, {2, 3}};
  const auto fixed = padding_stats(lengths, batches, 8);
  EXPECT_EQ(fixed.positions, 32);
  EXPECT_EQ(fixed.tokens, 10);
  EXPECT_DOUBLE_EQ(fixed.padding_fraction(), 1.0 - 10.0 / 32.0);
  EXPECT_DOUBLE_EQ(fixed.tokens_per_batch(), 5.0);
  const auto dynamic = padding_stats(lengths, batches, 0);
  EXPECT_EQ(dynamic.positions, 4 * 2 + 3 * 2);
}

}  // namespace
}  // namespace volt::data
