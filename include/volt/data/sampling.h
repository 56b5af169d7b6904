// The data pipeline's arithmetic, with no LibTorch: seeded permutations, document-level splits,
// cutting documents into pieces that fit a row, the three row layouts (one piece per row,
// best-fit-decreasing packing, nanoGPT's concatenate-and-chunk), the batches of an epoch and the
// padding they cost. Everything is a pure function of its arguments and a seed, computed with
// our own generator, so the same config gives the same batches on every machine and compiler.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace volt::data {

/// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and defined bit for bit, unlike
/// std::uniform_int_distribution whose output differs between standard libraries.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next();
  /// Uniform in [0, n), n > 0, without modulo bias (Lemire's multiply-and-reject).
  uint64_t below(uint64_t n);

 private:
  uint64_t state_;
};

/// One seed per purpose ("split", epoch 3, ...): a hash of the run's seed and the stream's ids.
uint64_t derive_seed(uint64_t seed, uint64_t stream, uint64_t index = 0);

/// A uniformly random permutation of 0 .. n-1 (Fisher-Yates).
std::vector<int64_t> permutation(int64_t n, uint64_t seed);

struct SplitFractions {
  double val = 0.05;
  double test = 0.0;
};

struct DocumentSplits {
  std::vector<int64_t> train, val, test;  // document indices, each in increasing order
};

/// Assigns whole documents to train / val / test: a seeded permutation, the first
/// round(n * val) documents to val, the next round(n * test) to test, the rest to train. A
/// fraction above 0 gets at least one document. Too few documents is a volt::Error.
DocumentSplits split_documents(int64_t num_documents, SplitFractions fractions, uint64_t seed);

/// Tokens [begin, begin + length) of one document.
struct Piece {
  int64_t doc = 0, begin = 0, length = 0;
};

/// Cuts documents into pieces of at most max_len tokens. Consecutive pieces of a document overlap
/// by one token: with max_len = T + 1 each piece gives T inputs and T next-token labels, and every
/// token after a document's first is a label exactly once. Documents shorter than 2 tokens give
/// nothing (no next token to predict).
std::vector<Piece> chunk_documents(const std::vector<int64_t>& docs,
                                   const std::function<int64_t(int64_t)>& doc_length,
                                   int64_t max_len);

/// A row of a batch: its pieces in order.
///  separate: each piece gives inputs piece[0 .. L-2] and labels piece[1 .. L-1], positions from 0
///            (one piece per row for padding collators; several for packing)
///  stream:   the pieces' tokens are one stream of N tokens: inputs stream[0 .. N-2], labels
///            stream[1 .. N-1], except that no label crosses from one piece into the next
struct Row {
  std::vector<Piece> pieces;
  int64_t inputs = 0;  // input positions it fills (the rest of the row is padding)
};

/// One piece per row, in the pieces' order.
std::vector<Row> one_piece_per_row(const std::vector<Piece>& pieces);

/// Best-fit decreasing: pieces sorted by length (longest first, ties by order), each placed in the
/// open row whose free space is smallest among those it fits in, else a new row. A piece of L
/// tokens fills L - 1 positions of a row of `capacity`. O(n log n).
std::vector<Row> pack_best_fit_decreasing(const std::vector<Piece>& pieces, int64_t capacity);

/// nanoGPT's layout: the documents' tokens, in order, as one stream cut into rows of capacity + 1
/// tokens that overlap by one (row r starts at token r * capacity).
std::vector<Row> concatenate_and_chunk(const std::vector<int64_t>& docs,
                                       const std::function<int64_t(int64_t)>& doc_length,
                                       int64_t capacity);

struct SamplerOptions {
  int64_t batch_size = 8;
  bool shuffle = true;           // a new order each epoch
  bool group_by_length = false;  // Hugging Face's length-grouped sampler
  int64_t mega_batch_factor = 50;  // its mega-batches hold this many batches
  bool drop_last = false;        // drop a last, smaller batch
  uint64_t seed = 0;
};

/// The rows of each batch in one epoch: a pure function of the options, the epoch and the rows'
/// lengths. Grouped by length: shuffle, cut into mega-batches, sort each by length (longest
/// first), cut into batches, and put the batch holding the longest row first (an out-of-memory
/// shows at step one, not hours in).
std::vector<std::vector<int64_t>> epoch_batches(const std::vector<int64_t>& row_lengths,
                                                const SamplerOptions& options, int64_t epoch);

/// Padding of a set of batches: rows padded to `pad_to` positions, or to the longest row of each
/// batch when pad_to is 0.
struct PaddingStats {
  int64_t batches = 0, rows = 0, positions = 0, tokens = 0;
  double padding_fraction() const {
    return positions == 0 ? 0.0 : 1.0 - static_cast<double>(tokens) / static_cast<double>(positions);
  }
  double tokens_per_batch() const {
    return batches == 0 ? 0.0 : static_cast<double>(tokens) / static_cast<double>(batches);
  }
};
PaddingStats padding_stats(const std::vector<int64_t>& row_lengths,
                           const std::vector<std::vector<int64_t>>& batches, int64_t pad_to);

}  // namespace volt::data
