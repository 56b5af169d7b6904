// Which tokens of an encoding lie in given byte spans of its text: how a chat's rendered text,
// with the assistant's replies marked as byte spans, becomes a per-token loss mask.
#pragma once

#include <cstdint>
#include <vector>

#include "volt/tokenizers/tokenizer.h"

namespace volt {

/// What to do with a token that straddles a span's edge (part of its bytes in, part out).
enum class SpanEdge {
  kInclude,  // it is in the mask (Hugging Face's return_assistant_tokens_mask does the same)
  kError,    // a volt::Error naming the token, its bytes and the span
};

/// 1 for each token whose bytes overlap one of `spans`, else 0. offsets: from
/// encode_with_offsets (starts and ends never decrease: anything else is an error). spans: byte
/// ranges [start, end) of the same text, in any order; they may touch or overlap (touching spans
/// act as one, so a token across their meeting point is inside), and an empty one selects
/// nothing; start > end is an error. A token with an empty span (BOS, EOS, a template token, a
/// lone inserted "▁") is in no span.
std::vector<uint8_t> token_mask_for_spans(const std::vector<ByteSpan>& offsets,
                                          const std::vector<ByteSpan>& spans,
                                          SpanEdge edge = SpanEdge::kInclude);

}  // namespace volt
