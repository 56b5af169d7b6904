// CRC-32C against published vectors (RFC 3720 B.4, the "123456789" check value) and against
// Debian's python3-crc32c (an independent implementation) on random data of every length
// around the 8-byte blocks of the slicing loop.
#include "volt/io/crc32c.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "logging_test_util.h"
#include "test_util.h"

namespace volt::io {
namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string s;
  for (int v : values) s += static_cast<char>(v);
  return s;
}

TEST(Crc32c, CheckValue) { EXPECT_EQ(crc32c("123456789"), 0xE3069283u); }

TEST(Crc32c, EmptyInputIsZero) { EXPECT_EQ(crc32c(""), 0u); }

TEST(Crc32c, Rfc3720Vectors) {
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending, descending;
  for (int i = 0; i < 32; ++i)
    ascending += static_cast<char>(i), descending += static_cast<char>(31 - i);
  EXPECT_EQ(crc32c(ascending), 0x46DD794Eu);
  EXPECT_EQ(crc32c(descending), 0x113FDB5Cu);
  // An iSCSI read command PDU.
  const std::string pdu =
      bytes({0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
             0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
             0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
             0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00});
  EXPECT_EQ(crc32c(pdu), 0xD9963A56u);
}

TEST(Crc32c, ExtendEqualsOneShot) {
  const std::string text = "The quick brown fox jumps over the lazy dog, twice over.";
  for (size_t split = 0; split <= text.size(); ++split) {
    const uint32_t head = crc32c_extend(0, text.data(), split);
    EXPECT_EQ(crc32c_extend(head, text.data() + split, text.size() - split), crc32c(text))
        << "split at " << split;
  }
}

TEST(Crc32c, MaskMatchesTFRecord) {
  // TFRecord's mask: rotate right by 15, add 0xa282ead8 (mod 2^32).
  EXPECT_EQ(crc32c_mask(0), 0xa282ead8u);
  EXPECT_EQ(crc32c_mask(0x00008000u), 0xa282ead9u);
  EXPECT_EQ(crc32c_mask(0xE3069283u), 0xc78ab0e5u);  // computed with Python's integers
}

TEST(Crc32c, MatchesPythonCrc32c) {
  test::ScopedTempDir dir;
  std::mt19937 rng(20240607);
  std::string data(300, '\0');
  for (char& c : data) c = static_cast<char>(rng() & 0xff);
  { std::ofstream(dir / "data.bin", std::ios::binary) << data; }
  // Every prefix length 0..299 at every start offset 0..7: all alignments and tails.
  const std::string script =
      "import sys\n"
      "try:\n"
      "    import crc32c\n"
      "except ImportError:\n"
      "    sys.exit('python3-crc32c is missing: apt-get install python3-crc32c "
      "(scripts/install-deps.sh)')\n"
      "d = open(sys.argv[1], 'rb').read()\n"
      "for s in range(8):\n"
      "    print(' '.join(str(crc32c.crc32c(d[s:s + n])) for n in range(len(d) - 7)))\n";
  { std::ofstream(dir / "crc.py") << script; }
  const std::string cmd = std::string("'") + VOLT_TEST_PYTHON3 + "' '" + (dir / "crc.py") + "' '" +
                          (dir / "data.bin") + "' >'" + (dir / "out") + "' 2>'" + (dir / "err") +
                          "'";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "python3 crc32c reference failed: " << test::slurp(dir / "err");
  std::istringstream lines(test::slurp(dir / "out"));
  int compared = 0;
  for (size_t start = 0; start < 8; ++start) {
    for (size_t n = 0; n + 7 < data.size(); ++n, ++compared) {
      uint64_t expected = 0;
      ASSERT_TRUE(lines >> expected) << "short reference output";
      ASSERT_EQ(crc32c_extend(0, data.data() + start, n), expected)
          << "start " << start << ", length " << n;
    }
  }
  EXPECT_EQ(compared, 8 * 293);
}

}  // namespace
}  // namespace volt::io
