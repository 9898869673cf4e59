// A replay driver for the fuzz targets, for builds without libFuzzer (gcc):
//
//   fuzz_<name>_replay [--seconds N] [--seed S] [--max-len N] [--artifact-prefix P] PATH...
//
// Runs LLVMFuzzerTestOneInput once over every file given (a directory means
// every regular file in it, in name order): the committed corpus, including
// the crash inputs kept as regression tests. With --seconds N it then runs
// deterministic random mutations of those inputs (a fixed seed, so the same
// sequence every time) for N seconds: a poor man's fuzz run that finds
// shallow bugs without clang. When an input crashes the process (a signal,
// an exception escaping the target, or a sanitizer report), it is written to
// <prefix>crash-input first, so that it can be replayed and committed.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) __attribute__((weak));
// Present when built with a sanitizer, which ends the process itself.
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

namespace {

// The input being run, for the crash handlers (async-signal-safe access only).
const uint8_t* g_current = nullptr;
size_t g_current_size = 0;
char g_artifact[4096] = "crash-input";
char g_label[512] = "";

void put(const char* s) {
  ssize_t r = ::write(2, s, std::strlen(s));
  (void)r;
}

void dump_current() {
  put("\nfuzz replay: crashed on ");
  put(g_label);
  if (!g_current) {
    put("\n");
    return;
  }
  int fd = ::open(g_artifact, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    size_t done = 0;
    while (done < g_current_size) {
      ssize_t r = ::write(fd, g_current + done, g_current_size - done);
      if (r <= 0) break;
      done += static_cast<size_t>(r);
    }
    ::close(fd);
    put("; the input is saved as ");
    put(g_artifact);
  }
  put("\n");
}

void on_signal(int sig) {
  dump_current();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void on_terminate() {
  put("\nfuzz replay: an exception escaped LLVMFuzzerTestOneInput");
  if (auto e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      put(": ");
      put(ex.what());
    } catch (...) {
    }
  }
  dump_current();
  std::signal(SIGABRT, SIG_DFL);
  std::abort();
}

void run_one(const std::vector<uint8_t>& input, const std::string& label) {
  std::snprintf(g_label, sizeof g_label, "%s", label.c_str());
  g_current = input.data();
  g_current_size = input.size();
  // A copy in a buffer of exactly the input's size, as libFuzzer does, so
  // that ASan catches a read one past the end.
  std::unique_ptr<uint8_t[]> copy(new uint8_t[std::max<size_t>(input.size(), 1)]);
  if (!input.empty()) std::memcpy(copy.get(), input.data(), input.size());
  LLVMFuzzerTestOneInput(copy.get(), input.size());
  g_current = nullptr;
}

std::vector<uint8_t> read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Deterministic mutations in the spirit of libFuzzer's (far simpler).
class Mutator {
 public:
  Mutator(uint64_t seed, size_t max_len) : rng_(seed), max_len_(max_len) {}

  std::vector<uint8_t> mutate(const std::vector<std::vector<uint8_t>>& corpus) {
    auto data = corpus[below(corpus.size())];
    int n = 1 + static_cast<int>(below(4));
    for (int i = 0; i < n; ++i) step(data, corpus);
    if (data.size() > max_len_) data.resize(max_len_);
    return data;
  }

 private:
  uint64_t below(uint64_t n) { return n == 0 ? 0 : rng_() % n; }

  void step(std::vector<uint8_t>& d, const std::vector<std::vector<uint8_t>>& corpus) {
    static constexpr uint32_t kInteresting[] = {
        0,      1,       0x7f,       0x80,       0xff,       0x100,      0x7fff, 0x8000,
        0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 64};
    switch (below(10)) {
      case 0:  // flip a bit
        if (!d.empty()) d[below(d.size())] ^= static_cast<uint8_t>(1u << below(8));
        break;
      case 1:  // set a byte
        if (!d.empty()) d[below(d.size())] = static_cast<uint8_t>(rng_());
        break;
      case 2: {  // overwrite with an interesting 1/2/4-byte value, either endianness
        if (d.empty()) break;
        uint32_t v = kInteresting[below(std::size(kInteresting))];
        size_t width = size_t{1} << below(3);
        size_t at = below(d.size());
        bool big = below(2);
        for (size_t i = 0; i < width && at + i < d.size(); ++i) {
          size_t shift = 8 * (big ? width - 1 - i : i);
          d[at + i] = static_cast<uint8_t>(v >> shift);
        }
        break;
      }
      case 3: {  // insert random bytes
        size_t at = below(d.size() + 1);
        size_t n = 1 + below(8);
        std::vector<uint8_t> bytes(n);
        for (auto& b : bytes) b = static_cast<uint8_t>(rng_());
        d.insert(d.begin() + static_cast<std::ptrdiff_t>(at), bytes.begin(), bytes.end());
        break;
      }
      case 4: {  // erase a range
        if (d.empty()) break;
        size_t at = below(d.size());
        size_t n = 1 + below(std::min<size_t>(d.size() - at, 16));
        d.erase(d.begin() + static_cast<std::ptrdiff_t>(at),
                d.begin() + static_cast<std::ptrdiff_t>(at + n));
        break;
      }
      case 5: {  // duplicate a range elsewhere
        if (d.empty()) break;
        size_t at = below(d.size());
        size_t n = 1 + below(std::min<size_t>(d.size() - at, 32));
        std::vector<uint8_t> range(d.begin() + static_cast<std::ptrdiff_t>(at),
                                   d.begin() + static_cast<std::ptrdiff_t>(at + n));
        size_t to = below(d.size() + 1);
        d.insert(d.begin() + static_cast<std::ptrdiff_t>(to), range.begin(), range.end());
        break;
      }
      case 6: {  // splice in a range of another input
        const auto& other = corpus[below(corpus.size())];
        if (other.empty()) break;
        size_t from = below(other.size());
        size_t n = 1 + below(std::min<size_t>(other.size() - from, 64));
        size_t at = below(d.size() + 1);
        size_t keep = std::min(n, d.size() - at);
        d.erase(d.begin() + static_cast<std::ptrdiff_t>(at),
                d.begin() + static_cast<std::ptrdiff_t>(at + keep));
        d.insert(d.begin() + static_cast<std::ptrdiff_t>(at),
                 other.begin() + static_cast<std::ptrdiff_t>(from),
                 other.begin() + static_cast<std::ptrdiff_t>(from + n));
        break;
      }
      case 7:  // truncate
        if (!d.empty()) d.resize(below(d.size()));
        break;
      case 8:  // add or subtract a small number from a byte (lengths, varints, enums)
        if (!d.empty()) {
          auto& b = d[below(d.size())];
          b = static_cast<uint8_t>(
              b + static_cast<uint8_t>(below(2) ? 1 + below(4) : 256 - 1 - below(4)));
        }
        break;
      default: {  // swap two bytes
        if (d.size() < 2) break;
        std::swap(d[below(d.size())], d[below(d.size())]);
        break;
      }
    }
  }

  std::mt19937_64 rng_;
  size_t max_len_;
};

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(
      stderr,
      "usage: %s [--seconds N] [--seed S] [--max-len BYTES] [--artifact-prefix PREFIX] PATH...\n"
      "Runs the fuzz target over every file (directories: every file in them), then, with\n"
      "--seconds, over deterministic mutations of those files for N seconds.\n",
      argv0);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 0;
  uint64_t seed = 1;
  size_t max_len = 64 * 1024;
  std::string prefix;
  std::vector<std::filesystem::path> paths;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(argv[0]);
      return argv[++i];
    };
    if (a == "--seconds") {
      seconds = std::stod(value());
    } else if (a == "--seed") {
      seed = std::stoull(value());
    } else if (a == "--max-len") {
      max_len = std::stoull(value());
    } else if (a == "--artifact-prefix") {
      prefix = value();
    } else if (a == "-h" || a == "--help") {
      usage(argv[0]);
    } else if (!a.empty() && a[0] == '-') {
      usage(argv[0]);
    } else {
      paths.emplace_back(a);
    }
  }
  if (paths.empty()) usage(argv[0]);
  std::snprintf(g_artifact, sizeof g_artifact, "%scrash-input", prefix.c_str());

  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) std::signal(sig, on_signal);
  std::set_terminate(on_terminate);
  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(dump_current);

  std::vector<std::filesystem::path> files;
  for (const auto& p : paths) {
    if (std::filesystem::is_directory(p)) {
      std::vector<std::filesystem::path> in_dir;
      for (const auto& e : std::filesystem::directory_iterator(p)) {
        if (e.is_regular_file()) in_dir.push_back(e.path());
      }
      std::sort(in_dir.begin(), in_dir.end());
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else if (std::filesystem::is_regular_file(p)) {
      files.push_back(p);
    } else {
      std::fprintf(stderr, "fuzz replay: %s: no such file or directory\n", p.c_str());
      return 2;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "fuzz replay: no input file\n");
    return 2;
  }

  std::vector<std::vector<uint8_t>> corpus;
  auto start = std::chrono::steady_clock::now();
  for (const auto& f : files) {
    auto bytes = read_bytes(f);
    run_one(bytes, f.string());
    if (bytes.size() > max_len) bytes.resize(max_len);
    corpus.push_back(std::move(bytes));
  }
  auto replayed = std::chrono::steady_clock::now();
  std::printf("fuzz replay: %zu corpus inputs passed in %.2f s\n", files.size(),
              std::chrono::duration<double>(replayed - start).count());

  if (seconds > 0) {
    Mutator mutator(seed, max_len);
    auto deadline = replayed + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   std::chrono::duration<double>(seconds));
    uint64_t runs = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      auto input = mutator.mutate(corpus);
      run_one(input, "mutation " + std::to_string(runs) + " (seed " + std::to_string(seed) + ")");
      ++runs;
    }
    double took =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - replayed).count();
    std::printf("fuzz replay: %llu mutations (seed %llu) passed in %.2f s (%.0f exec/s)\n",
                static_cast<unsigned long long>(runs), static_cast<unsigned long long>(seed), took,
                took > 0 ? static_cast<double>(runs) / took : 0.0);
  }
  return 0;
}
