// Fuzz target: the clip reader (evals/src/clip_file.cpp), on a clip held in
// memory. Reads the header, the frame count and every readable frame, as
// `hil clips info` and the agents do. ClipError is the expected way to
// refuse a damaged clip; any other exception, or a sanitizer report, is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.h"
#include "hil/evals/clip_file.h"

using namespace hil;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
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
  return 0;
}
