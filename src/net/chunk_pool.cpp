#include "redmirror/net/chunk_pool.h"

#include <cstdlib>
#include <new>

namespace redmirror::net {

void releaseChunk(Chunk* chunk) {
  if (--chunk->refs == 0) chunk->pool->recycle(chunk);
}

ChunkPool::~ChunkPool() {
  for (Chunk* chunk : free_) std::free(chunk);
}

Chunk* ChunkPool::acquire(size_t size) {
  Chunk* chunk = nullptr;
  if (size <= kChunkSize && !free_.empty()) {
    chunk = free_.back();
    free_.pop_back();
  } else {
    const size_t capacity = size < kChunkSize ? kChunkSize : size;
    void* memory = std::malloc(sizeof(Chunk) + capacity);
    if (memory == nullptr) throw std::bad_alloc();
    chunk = static_cast<Chunk*>(memory);
    chunk->pool = this;
    chunk->capacity = static_cast<uint32_t>(capacity);
  }
  chunk->refs = 1;
  chunk->used = 0;
  ++live_;
  liveBytes_ += chunk->capacity;
  return chunk;
}

void ChunkPool::recycle(Chunk* chunk) {
  --live_;
  liveBytes_ -= chunk->capacity;
  if (chunk->capacity == kChunkSize && free_.size() < maxCached_) {
    free_.push_back(chunk);
  } else {
    std::free(chunk);
  }
}

}  // namespace redmirror::net
