#include "volt/tokenizers/span_mask.h"

#include <algorithm>

#include "volt/core/check.h"

namespace volt {

std::vector<uint8_t> token_mask_for_spans(const std::vector<ByteSpan>& offsets,
                                          const std::vector<ByteSpan>& spans, SpanEdge edge) {
  // The spans as disjoint, non-touching ranges, in order.
  std::vector<ByteSpan> merged;
  for (const ByteSpan& s : spans) {
    VOLT_CHECK(s.start <= s.end, "[token_mask] span [", s.start, ", ", s.end,
               ") ends before it starts");
    if (!s.empty()) merged.push_back(s);
  }
  std::sort(merged.begin(), merged.end(),
            [](const ByteSpan& a, const ByteSpan& b) { return a.start < b.start; });
  size_t n = 0;
  for (const ByteSpan& s : merged) {
    if (n > 0 && s.start <= merged[n - 1].end) {
      merged[n - 1].end = std::max(merged[n - 1].end, s.end);
    } else {
      merged[n++] = s;
    }
  }
  merged.resize(n);

  std::vector<uint8_t> mask(offsets.size(), 0);
  size_t next = 0;  // the first merged span that does not end before the current token
  for (size_t i = 0; i < offsets.size(); ++i) {
    const ByteSpan& t = offsets[i];
    VOLT_CHECK(t.start <= t.end, "[token_mask] token ", i, " has bytes [", t.start, ", ", t.end,
               ") that end before they start");
    if (i > 0) {
      VOLT_CHECK(t.start >= offsets[i - 1].start && t.end >= offsets[i - 1].end,
                 "[token_mask] token ", i, " [", t.start, ", ", t.end,
                 ") starts or ends before token ", i - 1, " [", offsets[i - 1].start, ", ",
                 offsets[i - 1].end, "): offsets must come from encode_with_offsets");
    }
    if (t.empty()) continue;
    while (next < merged.size() && merged[next].end <= t.start) ++next;
    if (next == merged.size() || merged[next].start >= t.end) continue;
    const ByteSpan& s = merged[next];
    VOLT_CHECK(edge == SpanEdge::kInclude || (s.start <= t.start && t.end <= s.end),
               "[token_mask] token ", i, " (bytes [", t.start, ", ", t.end,
               ")) straddles the edge of the span [", s.start, ", ", s.end, ")");
    mask[i] = 1;
  }
  return mask;
}

}  // namespace volt
