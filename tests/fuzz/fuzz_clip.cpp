// Fuzz target: the clip reader (evals/src/clip_file.cpp), on a clip held in
// memory. Reads the header, the frame count and every readable frame, as
// `hil clips info` and the agents do. ClipError is the expected way to
// refuse a damaged clip; any other exception, or a sanitizer report, is a bug.
//
// Every record carries a CRC32, which a mutation almost always breaks, so
// most inputs would stop at the first CRC check. Each input is therefore read
// twice: as it is, and with the CRC of every record the harness can walk to
// recomputed, so that mutated payloads reach the Protobuf parsing and the
// frame checks behind it.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_support.h"
#include "hil/evals/clip_file.h"

using namespace hil;

namespace {

uint64_t get_le(const std::string& b, size_t at, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i)
    v = (v << 8) | static_cast<unsigned char>(b[at + static_cast<size_t>(i)]);
  return v;
}

// Recomputes the CRC of the record at `at`; false when it does not fit.
bool fix_record(std::string& b, uint64_t at, uint64_t* next) {
  if (at > b.size() || b.size() - at < 8) return false;
  uint64_t len = get_le(b, at, 4);
  if (len > b.size() - at - 8) return false;
  auto crc = static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(b.data() + at + 8), static_cast<uInt>(len)));
  for (int i = 0; i < 4; ++i)
    b[at + 4 + static_cast<size_t>(i)] = static_cast<char>((crc >> (8 * i)) & 0xff);
  *next = at + 8 + len;
  return true;
}

// The records from the header on, and the index the trailer points at.
std::string with_fixed_crcs(std::string b) {
  uint64_t at = 8, next = 0;
  while (fix_record(b, at, &next)) at = next;
  if (b.size() >= 16 && std::memcmp(b.data() + b.size() - 8, "HILCEND1", 8) == 0) {
    fix_record(b, get_le(b, b.size() - 16, 8), &next);
  }
  return b;
}

void read_clip(std::string bytes) {
  const size_t size = bytes.size();
  try {
    evals::ClipReader reader(std::move(bytes), "fuzz.clip");
    const auto& header = reader.header();
    (void)header.cameras_size();
    const uint32_t n = reader.frame_count();
    // The index or the scan never reports more frames than records fit in the file.
    HIL_FUZZ_CHECK(n <= size / 8, "%u frames in a file of %zu bytes", n, size);
    for (uint32_t k = 0; k < n; ++k) {
      try {
        auto frame = reader.frame(k);
        // A frame that reads has an image of a known camera with its size.
        for (const auto& img : frame.images()) {
          bool known = false;
          for (const auto& cam : header.cameras()) known |= cam.name() == img.camera();
          HIL_FUZZ_CHECK(known, "frame %u: image of an unknown camera was returned", k);
        }
      } catch (const evals::ClipError& e) {
        HIL_FUZZ_CHECK(e.frame() == static_cast<int64_t>(k), "frame %u: error names frame %lld", k,
                       static_cast<long long>(e.frame()));
      }
    }
    // Past the end is refused, never read.
    try {
      reader.frame(n);
      HIL_FUZZ_CHECK(false, "frame %u of %u was returned", n, n);
    } catch (const evals::ClipError&) {
    }
  } catch (const evals::ClipError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  std::string fixed = with_fixed_crcs(bytes);
  if (fixed != bytes) read_clip(std::move(fixed));
  read_clip(std::move(bytes));
  return 0;
}
