// Collators: rows of token pieces (data/sampling.h) into a Batch of tensors.
//   separate rows (padding collators, best-fit packing): each piece gives inputs piece[0 .. L-2]
//     and labels piece[1 .. L-1]; with document_ids, positions restart at 0 for each piece and
//     each piece gets its own document id, so attention stays inside it
//   stream rows (concatenate-and-chunk): the pieces are one stream; no label crosses from one
//     piece (document) into the next; with document_ids, positions and attention restart at each
//     piece too, else the row is one causal sequence as in nanoGPT
// Padding fills the row's end: input pad_id, label -100, document id -1.
#pragma once

#include <vector>

#include "volt/data/batch.h"
#include "volt/data/sampling.h"
#include "volt/data/token_cache.h"

namespace volt::data {

enum class RowLayout { kSeparate, kStream };

struct CollateOptions {
  RowLayout layout = RowLayout::kSeparate;
  int64_t pad_to = 0;        // row length T; 0: the longest row of the batch
  int64_t pad_id = 0;        // input id at padded positions (their labels are -100)
  bool document_ids = false; // emit position_ids and document_ids restarting at each piece
};

Batch collate(const std::vector<const Row*>& rows, const TokenCache& tokens, const CollateOptions& options);

}  // namespace volt::data
