#pragma once
// Refcounted byte blocks: the unit of zero-copy forwarding.
//
//   Chunk (one allocation)
//   +--------+-----------------------------------------------+
//   | header | data[0 .. capacity)                           |
//   +--------+-----------------------------------------------+
//            ^ read lands at data+used; every Slice that refers to a byte
//              range holds one reference, and so does the reader while it
//              still appends to the chunk.
//
// A worker owns its pool; chunks never cross threads, so the count is plain.
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace redmirror::net {

inline constexpr size_t kChunkSize = 16 * 1024;

class ChunkPool;

struct Chunk {
  ChunkPool* pool;
  uint32_t refs;
  uint32_t capacity;
  uint32_t used;  // bytes filled so far (by the reader that owns the tail)

  char* data() { return reinterpret_cast<char*>(this + 1); }
  const char* data() const { return reinterpret_cast<const char*>(this + 1); }
  size_t freeSpace() const { return capacity - used; }
};

void releaseChunk(Chunk* chunk);
inline void retainChunk(Chunk* chunk) { ++chunk->refs; }

// A counted reference to a byte range of a chunk.
class Slice {
 public:
  Slice() = default;
  Slice(Chunk* chunk, uint32_t offset, uint32_t length) : chunk_(chunk), offset_(offset), length_(length) {
    retainChunk(chunk_);
  }
  Slice(const Slice& other) : Slice(other.chunk_, other.offset_, other.length_) {}
  Slice(Slice&& other) noexcept
      : chunk_(std::exchange(other.chunk_, nullptr)), offset_(other.offset_), length_(other.length_) {}
  Slice& operator=(Slice other) noexcept {
    std::swap(chunk_, other.chunk_);
    offset_ = other.offset_;
    length_ = other.length_;
    return *this;
  }
  ~Slice() {
    if (chunk_ != nullptr) releaseChunk(chunk_);
  }

  const char* data() const { return chunk_->data() + offset_; }
  uint32_t size() const { return length_; }
  Chunk* chunk() const { return chunk_; }
  uint32_t offset() const { return offset_; }
  // Extends this slice by the bytes that directly follow it in the same chunk.
  bool tryAppend(Chunk* chunk, uint32_t offset, uint32_t length) {
    if (chunk != chunk_ || offset != offset_ + length_) return false;
    length_ += length;
    return true;
  }
  void consumeFront(uint32_t n) {
    offset_ += n;
    length_ -= n;
  }
  // Keeps only the first n bytes.
  void truncate(uint32_t n) { length_ = n; }

 private:
  Chunk* chunk_ = nullptr;
  uint32_t offset_ = 0;
  uint32_t length_ = 0;
};

class ChunkPool {
 public:
  explicit ChunkPool(size_t maxCached = 256) : maxCached_(maxCached) {}
  ~ChunkPool();
  ChunkPool(const ChunkPool&) = delete;
  ChunkPool& operator=(const ChunkPool&) = delete;

  // A fresh chunk of kChunkSize bytes (or exactly `size` when larger), refs = 1.
  Chunk* acquire(size_t size = kChunkSize);
  void recycle(Chunk* chunk);

  size_t liveChunks() const { return live_; }
  size_t liveBytes() const { return liveBytes_; }

 private:
  std::vector<Chunk*> free_;
  size_t maxCached_;
  size_t live_ = 0;
  size_t liveBytes_ = 0;
};

}  // namespace redmirror::net
