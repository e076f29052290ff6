#pragma once
// One TCP connection on a worker loop: reads into pooled chunks and hands the
// byte ranges out without copying; writes queued Slices with one gather write
// per loop turn (a FlushScheduler calls flush() once per turn).
//
// Lifetime: the owner embeds the stream and may free it only after
// Events::onClosed. libuv cancels the connect, shutdown and write requests of a
// closing handle before its close callback, so every request callback runs while
// the stream is still alive; write requests own their Slices, so no byte a
// pending write points at is released early.
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "redmirror/net/chunk_pool.h"

namespace redmirror::net {

class TcpStream;

class FlushScheduler {
 public:
  virtual ~FlushScheduler() = default;
  // Arrange for stream.flush() to be called later in this loop turn.
  virtual void scheduleFlush(TcpStream& stream) = 0;
};

struct WriteLimits {
  // Above this many queued bytes the stream reports itself full; the owner stops
  // reading from the other side. onDrained fires when it falls below lowWater.
  size_t highWater = 1024 * 1024;
  size_t lowWater = 256 * 1024;
};

class TcpStream {
 public:
  class Events {
   public:
    virtual ~Events() = default;
    // `length` new bytes at chunk->data()+offset; retain the chunk to keep them.
    virtual void onData(TcpStream& stream, Chunk* chunk, uint32_t offset, uint32_t length) = 0;
    // The peer closed (UV_EOF) or the connection failed (a libuv error); reading has stopped.
    virtual void onEnd(TcpStream& stream, int status) = 0;
    // The queue fell below the low-water mark after having passed the high-water mark.
    virtual void onDrained(TcpStream& stream) = 0;
    virtual void onConnected(TcpStream& stream, int status) = 0;
    // The handle is closed; this is the last callback.
    virtual void onClosed(TcpStream& stream) = 0;
    // `bytes` more queued bytes reached the kernel (budget accounting).
    virtual void onWritten(TcpStream& /*stream*/, size_t /*bytes*/) {}
  };

  TcpStream(uv_loop_t* loop, ChunkPool& pool, FlushScheduler& scheduler, Events& events,
            WriteLimits limits = {});
  ~TcpStream();
  TcpStream(const TcpStream&) = delete;
  TcpStream& operator=(const TcpStream&) = delete;

  int accept(uv_stream_t* server);
  int connect(const sockaddr* address);
  // TCP_NODELAY (requests and replies are small and latency-bound) and keepalive.
  void tune();

  void startReading();
  void stopReading();
  bool isReading() const { return reading_; }

  // Queues bytes for the next flush, taking a reference on the chunk.
  void write(Chunk* chunk, uint32_t offset, uint32_t length);
  // Queues bytes the proxy itself produced (error replies, SELECT for a canary):
  // copied into a chunk this stream packs such bytes into.
  void writeCopy(std::string_view bytes);
  void flush();
  // Writes at most the first `maxBytes` queued bytes; the rest stays queued for
  // a later flush (the caller decides when: nothing is scheduled for it).
  void flushPrefix(size_t maxBytes);

  size_t queuedBytes() const { return pendingBytes_ + inflightBytes_; }
  // Bytes queued since the last flush took them (not yet handed to the kernel or libuv).
  size_t unsentBytes() const { return pendingBytes_; }
  bool isFull() const { return queuedBytes() > limits_.highWater; }

  // Half-close (shutdown(SHUT_WR)) once every queued byte is written.
  void shutdownWhenFlushed();
  // Close once every queued byte is written (or at once if the peer is gone).
  void closeWhenFlushed();
  // Close now; queued bytes not yet handed to the kernel are dropped.
  void close();

  bool isOpen() const { return state_ == State::kOpen; }
  bool isClosed() const { return state_ == State::kClosed; }
  bool isConnecting() const { return connecting_; }
  bool closeRequested() const { return wantClose_; }
  uv_tcp_t* handle() { return &handle_; }

 private:
  struct WriteRequest {
    uv_write_t req;
    TcpStream* stream;
    std::vector<Slice> slices;
    std::vector<uv_buf_t> bufs;
    size_t bytes = 0;
  };
  enum class State : uint8_t { kOpen, kClosing, kClosed };

  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onWrite(uv_write_t* req, int status);
  static void onConnect(uv_connect_t* req, int status);
  static void onShutdown(uv_shutdown_t* req, int status);
  static void onClose(uv_handle_t* handle);

  void scheduleFlush();
  void consumeWritten(size_t bytes);
  void afterWriteProgress();
  void finishIfFlushed();
  void failWrite(int status);
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&handle_); }

  uv_tcp_t handle_{};
  uv_connect_t connectReq_{};
  uv_shutdown_t shutdownReq_{};
  ChunkPool& pool_;
  FlushScheduler& scheduler_;
  Events& events_;
  WriteLimits limits_;

  State state_ = State::kOpen;
  bool reading_ = false;
  bool connecting_ = false;
  bool flushScheduled_ = false;
  bool wantShutdown_ = false;
  bool shutdownStarted_ = false;
  bool wantClose_ = false;
  bool wasFull_ = false;
  bool writeFailed_ = false;

  Chunk* readChunk_ = nullptr;
  Chunk* copyChunk_ = nullptr;  // tail chunk for writeCopy
  std::vector<Slice> pending_;  // not yet handed to the kernel or libuv
  size_t pendingBytes_ = 0;
  size_t inflightBytes_ = 0;
  size_t inflightRequests_ = 0;
  std::unique_ptr<WriteRequest> spareRequest_;
  std::vector<uv_buf_t> scratchBufs_;
};

}  // namespace redmirror::net
