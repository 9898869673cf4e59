#include "fixtures.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>

#include <fmt/format.h>

#include "hil/dual_engine/sample_models.h"
#include "hil/evals/clip_generator.h"

namespace hil::test {
namespace {
std::filesystem::path shared_dir() {
  static std::filesystem::path dir = [] {
    auto p = std::filesystem::temp_directory_path() / fmt::format("hil-test-shared-{}", ::getpid());
    std::filesystem::create_directories(p);
    return p;
  }();
  return dir;
}
struct SharedCleanup {
  ~SharedCleanup() {
    std::error_code ec;
    std::filesystem::remove_all(
        std::filesystem::temp_directory_path() / fmt::format("hil-test-shared-{}", ::getpid()), ec);
  }
} cleanup;
}  // namespace

TempDir::TempDir() {
  std::random_device rd;
  path_ =
      std::filesystem::temp_directory_path() / fmt::format("hil-test-{}-{:x}", ::getpid(), rd());
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

const std::string& tiny_revision(const std::string& recipe_name, uint64_t seed) {
  static std::mutex mu;
  static std::map<std::string, std::string> cache;
  std::lock_guard lock(mu);
  auto key = fmt::format("{}/{}", recipe_name, seed);
  auto& slot = cache[key];
  if (slot.empty()) {
    auto recipe = dual_engine::recipe_by_name(recipe_name);
    recipe.seed = seed;
    recipe.train_clips = 6;
    recipe.frames_per_clip = 8;
    slot = dual_engine::train_revision(recipe, shared_dir() / "train-clips");
  }
  return slot;
}

std::filesystem::path sample_clip(uint64_t seed, const std::string& condition, uint32_t frames) {
  evals::ClipSpec spec;
  spec.seed = seed;
  spec.condition = condition;
  spec.frames = frames;
  auto dir = shared_dir() / "clips";
  auto sha = evals::generate_clip_file(spec, dir);
  return dir / (sha + ".clip");
}

std::filesystem::path hil_binary() {
  if (const char* bin = std::getenv("HIL_BIN")) return std::filesystem::path(bin) / "hil";
  return std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path() / "bin" /
         "hil";
}

void skip(const std::string& why) {
  std::fprintf(stdout, "SKIPPED: %s\n", why.c_str());
  std::fflush(stdout);
  std::exit(kSkipReturnCode);
}

}  // namespace hil::test
