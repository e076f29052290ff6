#pragma once
// The recent bytes of one stream, by reference: the read slices from some offset
// on, so that a frame the framer reported by stream offsets can be mirrored
// (zero-copy) or copied for comparison after the read that completed it.
//
//   stream offsets:  [ piece 0 ][ piece 1 ][ piece 2 ] ...
//                    ^ front()                          ^ end()
// Owners drop what they no longer need and cap what they keep.
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "redmirror/net/chunk_pool.h"

namespace redmirror::net {

class StreamWindow {
 public:
  // `offset` is the stream offset of the slice's first byte; slices must be
  // appended in stream order (gaps are allowed after a clear()).
  void append(uint64_t offset, Chunk* chunk, uint32_t chunkOffset, uint32_t length) {
    if (!pieces_.empty() && pieces_.back().offset + pieces_.back().slice.size() == offset &&
        pieces_.back().slice.tryAppend(chunk, chunkOffset, length)) {
      retained_ += length;
      return;
    }
    pieces_.push_back(Piece{offset, Slice(chunk, chunkOffset, length)});
    retained_ += length;
  }

  uint64_t front() const { return pieces_.empty() ? 0 : pieces_.front().offset; }
  uint64_t retainedBytes() const { return retained_; }
  bool empty() const { return pieces_.empty(); }

  // Calls visit(chunk, chunkOffset, length) for each piece of [begin, end).
  // Returns false (visiting nothing) when part of the range is not retained.
  template <typename Visit>
  bool forEach(uint64_t begin, uint64_t end, Visit&& visit) const {
    if (!covers(begin, end)) return false;
    for (const Piece& piece : pieces_) {
      const uint64_t pieceEnd = piece.offset + piece.slice.size();
      if (pieceEnd <= begin) continue;
      if (piece.offset >= end) break;
      const uint64_t from = begin > piece.offset ? begin : piece.offset;
      const uint64_t to = end < pieceEnd ? end : pieceEnd;
      visit(piece.slice.chunk(), static_cast<uint32_t>(piece.slice.offset() + (from - piece.offset)),
            static_cast<uint32_t>(to - from));
    }
    return true;
  }

  // [begin, end) in place when it lies in one piece (the common case: a
  // command's argument within one read); false otherwise (use copy()).
  bool view(uint64_t begin, uint64_t end, std::string_view& out) const {
    for (auto it = pieces_.rbegin(); it != pieces_.rend(); ++it) {
      if (it->offset > begin) continue;
      if (end > it->offset + it->slice.size()) return false;
      out = std::string_view(it->slice.data() + (begin - it->offset), end - begin);
      return true;
    }
    return false;
  }

  // Appends [begin, end) to `out`; false when not retained.
  bool copy(uint64_t begin, uint64_t end, std::string& out) const {
    return forEach(begin, end, [&out](Chunk* chunk, uint32_t offset, uint32_t length) {
      out.append(chunk->data() + offset, length);
    });
  }

  // Releases every piece that ends at or before `offset`.
  void dropBefore(uint64_t offset) {
    while (!pieces_.empty() && pieces_.front().offset + pieces_.front().slice.size() <= offset) {
      retained_ -= pieces_.front().slice.size();
      pieces_.pop_front();
    }
  }

  void clear() {
    pieces_.clear();
    retained_ = 0;
  }

 private:
  struct Piece {
    uint64_t offset;
    Slice slice;
  };

  bool covers(uint64_t begin, uint64_t end) const {
    if (pieces_.empty()) return begin == end;
    if (begin < pieces_.front().offset) return false;
    const Piece& last = pieces_.back();
    if (end > last.offset + last.slice.size()) return false;
    // Pieces are contiguous unless a clear() cut the stream; check for holes.
    uint64_t expected = pieces_.front().offset;
    for (const Piece& piece : pieces_) {
      if (piece.offset >= end) break;
      if (piece.offset != expected && piece.offset > begin) return false;
      expected = piece.offset + piece.slice.size();
    }
    return true;
  }

  std::deque<Piece> pieces_;
  uint64_t retained_ = 0;
};

}  // namespace redmirror::net
