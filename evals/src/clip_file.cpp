#include "hil/evals/clip_file.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

namespace hil::evals {
namespace {

constexpr char kMagic[8] = {'H', 'I', 'L', 'C', 'L', 'I', 'P', '1'};
constexpr char kEndMagic[8] = {'H', 'I', 'L', 'C', 'E', 'N', 'D', '1'};
constexpr uint64_t kRecordHeaderBytes = 8;
constexpr uint64_t kTrailerBytes = 16;

uint32_t crc_of(const std::string& payload) {
  return static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(payload.size())));
}

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_le(const char* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string frame_record(const google::protobuf::MessageLite& msg) {
  std::string payload;
  msg.SerializeToString(&payload);
  std::string out;
  out.reserve(payload.size() + kRecordHeaderBytes);
  put_u32(out, static_cast<uint32_t>(payload.size()));
  put_u32(out, crc_of(payload));
  out += payload;
  return out;
}

std::string trailer(uint64_t index_offset) {
  std::string out;
  put_u64(out, index_offset);
  out.append(kEndMagic, sizeof kEndMagic);
  return out;
}

// Random access to the clip's bytes: a file descriptor (pread) or memory.
class ByteSource {
 public:
  explicit ByteSource(const std::filesystem::path& path) : name_(path.string()) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0)
      throw ClipError(name_, -1, 0, fmt::format("cannot open: {}", std::strerror(errno)));
    auto end = ::lseek(fd_, 0, SEEK_END);
    size_ = end < 0 ? 0 : static_cast<uint64_t>(end);
  }
  ByteSource(std::string bytes, std::string name)
      : name_(std::move(name)), bytes_(std::move(bytes)) {
    size_ = bytes_.size();
  }
  ~ByteSource() {
    if (fd_ >= 0) ::close(fd_);
  }
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  uint64_t size() const { return size_; }
  const std::string& name() const { return name_; }

  // Reads exactly n bytes at offset, or returns false when the file is shorter.
  bool read_at(uint64_t offset, uint64_t n, std::string& out) const {
    if (offset > size_ || n > size_ - offset) return false;
    out.resize(n);
    if (fd_ < 0) {
      std::memcpy(out.data(), bytes_.data() + offset, n);
      return true;
    }
    uint64_t done = 0;
    while (done < n) {
      auto r = ::pread(fd_, out.data() + done, n - done, static_cast<off_t>(offset + done));
      if (r <= 0) return false;
      done += static_cast<uint64_t>(r);
    }
    return true;
  }

 private:
  std::string name_;
  std::string bytes_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Reads the record at offset; on damage throws ClipError for `frame`.
std::string read_record(const ByteSource& src, uint64_t offset, int64_t frame, uint64_t* next) {
  std::string head;
  if (!src.read_at(offset, kRecordHeaderBytes, head)) {
    throw ClipError(src.name(), frame, offset, "truncated: record header past end of file");
  }
  uint64_t len = get_le(head.data(), 4);
  auto crc = static_cast<uint32_t>(get_le(head.data() + 4, 4));
  if (len > kMaxClipRecordBytes) {
    throw ClipError(
        src.name(), frame, offset,
        fmt::format("record length {} exceeds the limit of {} bytes", len, kMaxClipRecordBytes));
  }
  std::string payload;
  if (!src.read_at(offset + kRecordHeaderBytes, len, payload)) {
    throw ClipError(src.name(), frame, offset,
                    fmt::format("truncated: record of {} bytes runs past end of file ({} bytes)",
                                len, src.size()));
  }
  if (crc_of(payload) != crc) {
    throw ClipError(src.name(), frame, offset, "CRC32 mismatch: the record is corrupt");
  }
  if (next) *next = offset + kRecordHeaderBytes + len;
  return payload;
}

}  // namespace

ClipError::ClipError(std::string file, int64_t frame, uint64_t offset, const std::string& what)
    : std::runtime_error(fmt::format("{}: {} at byte {}: {}", file,
                                     frame == -1   ? std::string("header")
                                     : frame == -2 ? std::string("frame index")
                                                   : fmt::format("frame {}", frame),
                                     offset, what)),
      file_(std::move(file)),
      frame_(frame),
      offset_(offset) {}

// ---------------------------------------------------------------- writer

struct ClipWriter::Impl {
  std::filesystem::path path;
  std::ofstream out;
  uint64_t offset = 0;
  std::vector<uint64_t> offsets;
  bool finished = false;

  void put(const std::string& bytes) {
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error(fmt::format("{}: write failed (disk full?)", path.string()));
    offset += bytes.size();
  }
};

ClipWriter::ClipWriter(const std::filesystem::path& path, const clip::ClipHeader& header)
    : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  impl_->out.open(path, std::ios::binary | std::ios::trunc);
  if (!impl_->out)
    throw std::runtime_error(fmt::format("{}: cannot open for writing", path.string()));
  impl_->put(std::string(kMagic, sizeof kMagic));
  impl_->put(frame_record(header));
}

ClipWriter::~ClipWriter() {
  try {
    finish();
  } catch (...) {
  }
}

void ClipWriter::write_frame(const clip::Frame& frame) {
  impl_->offsets.push_back(impl_->offset);
  impl_->put(frame_record(frame));
}

void ClipWriter::finish() {
  if (impl_->finished) return;
  impl_->finished = true;
  clip::FrameIndex index;
  for (auto o : impl_->offsets) index.add_offsets(o);
  uint64_t index_offset = impl_->offset;
  impl_->put(frame_record(index));
  impl_->put(trailer(index_offset));
  impl_->out.close();
}

std::string encode_clip(const clip::ClipHeader& header, const std::vector<clip::Frame>& frames) {
  std::string out(kMagic, sizeof kMagic);
  out += frame_record(header);
  clip::FrameIndex index;
  for (const auto& f : frames) {
    index.add_offsets(out.size());
    out += frame_record(f);
  }
  uint64_t index_offset = out.size();
  out += frame_record(index);
  out += trailer(index_offset);
  return out;
}

// ---------------------------------------------------------------- reader

struct ClipReader::Impl {
  std::unique_ptr<ByteSource> src;
  clip::ClipHeader header;
  std::vector<uint64_t> offsets;
  std::optional<std::string> damage;

  void open() {
    std::string magic;
    if (!src->read_at(0, sizeof kMagic, magic) ||
        std::memcmp(magic.data(), kMagic, sizeof kMagic) != 0) {
      throw ClipError(src->name(), -1, 0, "not a hil clip (bad magic)");
    }
    uint64_t after_header = 0;
    auto payload = read_record(*src, sizeof kMagic, -1, &after_header);
    if (!header.ParseFromString(payload)) {
      throw ClipError(src->name(), -1, sizeof kMagic, "header record does not parse as ClipHeader");
    }
    if (header.format_version() > kClipFormatVersion) {
      throw ClipError(src->name(), -1, sizeof kMagic,
                      fmt::format("format version {} is newer than this hil reads ({})",
                                  header.format_version(), kClipFormatVersion));
    }
    if (!read_index(after_header)) scan(after_header);
  }

  // Fast path: trailer → index. Returns false if either is damaged.
  bool read_index(uint64_t first_frame) {
    if (src->size() < kTrailerBytes + first_frame) return false;
    std::string tail;
    if (!src->read_at(src->size() - kTrailerBytes, kTrailerBytes, tail)) return false;
    if (std::memcmp(tail.data() + 8, kEndMagic, sizeof kEndMagic) != 0) return false;
    uint64_t index_offset = get_le(tail.data(), 8);
    try {
      auto payload = read_record(*src, index_offset, -2, nullptr);
      clip::FrameIndex index;
      if (!index.ParseFromString(payload)) return false;
      uint64_t prev = 0;
      for (auto o : index.offsets()) {
        if (o < first_frame || o >= index_offset || o < prev) return false;
        prev = o;
      }
      offsets.assign(index.offsets().begin(), index.offsets().end());
      return true;
    } catch (const ClipError&) {
      return false;
    }
  }

  // Slow path for damaged files: walk the records from the start; frames
  // before the first damaged record stay readable.
  void scan(uint64_t offset) {
    offsets.clear();
    int64_t k = 0;
    while (offset < src->size()) {
      try {
        uint64_t next = 0;
        auto payload = read_record(*src, offset, k, &next);
        clip::Frame f;
        if (!f.ParseFromString(payload) || f.images_size() == 0) {
          // Either the index record (end of frames) or garbage.
          clip::FrameIndex index;
          if (index.ParseFromString(payload) && static_cast<int64_t>(index.offsets_size()) == k)
            break;
          throw ClipError(src->name(), k, offset, "record does not parse as a Frame");
        }
        offsets.push_back(offset);
        offset = next;
        ++k;
      } catch (const ClipError& e) {
        damage = e.what();
        return;
      }
    }
    if (k < static_cast<int64_t>(header.frame_count())) {
      damage = ClipError(src->name(), k, offset,
                         fmt::format("truncated: header says {} frames, found {}",
                                     header.frame_count(), k))
                   .what();
    } else {
      damage = ClipError(src->name(), -2, offset, "frame index or trailer damaged").what();
    }
  }
};

ClipReader::ClipReader(const std::filesystem::path& path) : impl_(std::make_unique<Impl>()) {
  impl_->src = std::make_unique<ByteSource>(path);
  impl_->open();
}

ClipReader::ClipReader(std::string bytes, std::string name) : impl_(std::make_unique<Impl>()) {
  impl_->src = std::make_unique<ByteSource>(std::move(bytes), std::move(name));
  impl_->open();
}

ClipReader::~ClipReader() = default;
ClipReader::ClipReader(ClipReader&&) noexcept = default;
ClipReader& ClipReader::operator=(ClipReader&&) noexcept = default;

const clip::ClipHeader& ClipReader::header() const { return impl_->header; }
uint32_t ClipReader::frame_count() const { return static_cast<uint32_t>(impl_->offsets.size()); }
const std::optional<std::string>& ClipReader::damage() const { return impl_->damage; }
const std::string& ClipReader::name() const { return impl_->src->name(); }

clip::Frame ClipReader::frame(uint32_t k) const {
  if (k >= impl_->offsets.size()) {
    throw ClipError(
        impl_->src->name(), k, impl_->src->size(),
        fmt::format("no such frame: the clip has {} readable frames", impl_->offsets.size()));
  }
  auto offset = impl_->offsets[k];
  auto payload = read_record(*impl_->src, offset, k, nullptr);
  clip::Frame f;
  if (!f.ParseFromString(payload))
    throw ClipError(impl_->src->name(), k, offset, "record does not parse as a Frame");
  for (const auto& img : f.images()) {
    const clip::Camera* cam = nullptr;
    for (const auto& c : impl_->header.cameras()) {
      if (c.name() == img.camera()) cam = &c;
    }
    if (!cam) {
      throw ClipError(impl_->src->name(), k, offset,
                      fmt::format("image of unknown camera '{}'", img.camera()));
    }
    uint64_t expect = uint64_t{cam->width()} * cam->height() * cam->channels();
    if (img.encoding() == clip::ENCODING_RAW && img.pixels().size() != expect) {
      throw ClipError(
          impl_->src->name(), k, offset,
          fmt::format("camera '{}' image has {} bytes, expected {}x{}x{} = {}", img.camera(),
                      img.pixels().size(), cam->width(), cam->height(), cam->channels(), expect));
    }
  }
  return f;
}

Image ClipReader::image(const clip::Frame& frame, const std::string& camera,
                        uint32_t reduce) const {
  const auto* cam = find_camera(impl_->header, camera);
  if (!cam) {
    throw ClipError(name(), frame.index(), 0, fmt::format("the clip has no camera '{}'", camera));
  }
  const clip::CameraImage* found = nullptr;
  for (const auto& img : frame.images()) {
    if (img.camera() == camera) found = &img;
  }
  if (!found)
    throw ClipError(name(), frame.index(), 0,
                    fmt::format("frame has no image from camera '{}'", camera));
  if (found->encoding() == clip::ENCODING_RAW) {
    Image out(cam->width(), cam->height(), cam->channels());
    if (found->pixels().size() != out.pixels.size()) {
      throw ClipError(name(), frame.index(), 0,
                      fmt::format("camera '{}' image has {} bytes, expected {}", camera,
                                  found->pixels().size(), out.pixels.size()));
    }
    std::copy(found->pixels().begin(), found->pixels().end(), out.pixels.begin());
    return out;
  }
  if (found->encoding() != clip::ENCODING_JPEG) reduce = 1;
  Image out;
  try {
    out = decode_image(found->pixels(), cam->channels() == 1 ? 1 : 3, reduce);
  } catch (const std::exception& e) {
    throw ClipError(name(), frame.index(), 0,
                    fmt::format("camera '{}' {} image: {}", camera,
                                clip::ImageEncoding_Name(found->encoding()), e.what()));
  }
  if (out.width != (cam->width() + reduce - 1) / reduce ||
      out.height != (cam->height() + reduce - 1) / reduce) {
    throw ClipError(name(), frame.index(), 0,
                    fmt::format("camera '{}' image decodes to {}x{}, the header says {}x{}", camera,
                                out.width, out.height, cam->width(), cam->height()));
  }
  return out;
}

std::vector<std::string> clip_truth(const clip::ClipHeader& header) {
  if (header.format_version() < 2 && header.truth_size() == 0) {
    return {truth::kEgo, truth::kControl, truth::kOdometry, truth::kLanes, truth::kObjects3d};
  }
  return {header.truth().begin(), header.truth().end()};
}

bool has_truth(const clip::ClipHeader& header, const std::string& token) {
  auto all = clip_truth(header);
  return std::find(all.begin(), all.end(), token) != all.end();
}

const clip::Camera* find_camera(const clip::ClipHeader& header, const std::string& name) {
  for (const auto& c : header.cameras()) {
    if (c.name() == name) return &c;
  }
  return nullptr;
}

}  // namespace hil::evals
