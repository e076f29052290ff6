#include "redmirror/net/tcp_stream.h"

#include <cassert>
#include <cstring>

namespace redmirror::net {

namespace {
// Below this much free space in the current read chunk, start a new one: tiny
// reads would cost a system call for a few bytes.
constexpr size_t kMinReadSpace = 2048;
// The kernel's IOV_MAX; a longer queue is written in several calls.
constexpr size_t kMaxIov = 1024;
}  // namespace

TcpStream::TcpStream(uv_loop_t* loop, ChunkPool& pool, FlushScheduler& scheduler, Events& events,
                     WriteLimits limits)
    : pool_(pool), scheduler_(scheduler), events_(events), limits_(limits) {
  uv_tcp_init(loop, &handle_);
  handle_.data = this;
}

TcpStream::~TcpStream() {
  // The owner must wait for onClosed before freeing the stream.
  assert(state_ == State::kClosed);
}

int TcpStream::accept(uv_stream_t* server) { return uv_accept(server, stream()); }

int TcpStream::connect(const sockaddr* address) {
  connectReq_.data = this;
  const int rc = uv_tcp_connect(&connectReq_, &handle_, address, &TcpStream::onConnect);
  connecting_ = rc == 0;
  return rc;
}

void TcpStream::tune() {
  uv_tcp_nodelay(&handle_, 1);
  uv_tcp_keepalive(&handle_, 1, 60);
}

void TcpStream::startReading() {
  if (reading_ || state_ != State::kOpen || wantClose_) return;
  if (uv_read_start(stream(), &TcpStream::onAlloc, &TcpStream::onRead) == 0) reading_ = true;
}

void TcpStream::stopReading() {
  if (!reading_) return;
  uv_read_stop(stream());
  reading_ = false;
}

void TcpStream::onAlloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  auto* self = static_cast<TcpStream*>(handle->data);
  Chunk*& chunk = self->readChunk_;
  // Sole owner: every byte read before has been written; start over at the front.
  if (chunk != nullptr && chunk->refs == 1) chunk->used = 0;
  if (chunk == nullptr || chunk->freeSpace() < kMinReadSpace) {
    if (chunk != nullptr) releaseChunk(chunk);
    chunk = self->pool_.acquire();
  }
  *buf = uv_buf_init(chunk->data() + chunk->used, static_cast<unsigned>(chunk->freeSpace()));
}

void TcpStream::onRead(uv_stream_t* handle, ssize_t nread, const uv_buf_t* /*buf*/) {
  auto* self = static_cast<TcpStream*>(handle->data);
  if (nread > 0) {
    Chunk* chunk = self->readChunk_;
    const uint32_t offset = chunk->used;
    chunk->used += static_cast<uint32_t>(nread);
    self->events_.onData(*self, chunk, offset, static_cast<uint32_t>(nread));
  } else if (nread < 0) {
    self->stopReading();
    self->events_.onEnd(*self, static_cast<int>(nread));
  }
}

void TcpStream::write(Chunk* chunk, uint32_t offset, uint32_t length) {
  if (state_ != State::kOpen || writeFailed_ || length == 0) return;
  if (pending_.empty() || !pending_.back().tryAppend(chunk, offset, length)) {
    pending_.emplace_back(chunk, offset, length);
  }
  pendingBytes_ += length;
  if (queuedBytes() > limits_.highWater) wasFull_ = true;
  scheduleFlush();
}

void TcpStream::writeCopy(std::string_view bytes) {
  while (!bytes.empty()) {
    if (copyChunk_ == nullptr || copyChunk_->freeSpace() == 0) {
      if (copyChunk_ != nullptr) releaseChunk(copyChunk_);
      copyChunk_ = pool_.acquire();
    }
    const size_t n = bytes.size() < copyChunk_->freeSpace() ? bytes.size() : copyChunk_->freeSpace();
    const uint32_t offset = copyChunk_->used;
    std::memcpy(copyChunk_->data() + offset, bytes.data(), n);
    copyChunk_->used += static_cast<uint32_t>(n);
    write(copyChunk_, offset, static_cast<uint32_t>(n));
    bytes.remove_prefix(n);
  }
}

void TcpStream::scheduleFlush() {
  if (flushScheduled_) return;
  flushScheduled_ = true;
  scheduler_.scheduleFlush(*this);
}

void TcpStream::flush() {
  flushScheduled_ = false;
  if (state_ != State::kOpen || connecting_) return;
  if (pending_.empty()) {
    finishIfFlushed();
    return;
  }
  if (inflightRequests_ == 0) {
    // Nothing queued in libuv: try the kernel directly and skip the request
    // object and its callback when the socket takes everything (the common case).
    scratchBufs_.clear();
    for (size_t i = 0; i < pending_.size() && i < kMaxIov; ++i) {
      const Slice& slice = pending_[i];
      scratchBufs_.push_back(uv_buf_init(const_cast<char*>(slice.data()), slice.size()));
    }
    const int written = uv_try_write(stream(), scratchBufs_.data(),
                                     static_cast<unsigned>(scratchBufs_.size()));
    if (written > 0) {
      consumeWritten(static_cast<size_t>(written));
    } else if (written != UV_EAGAIN && written != UV_ENOSYS) {
      failWrite(written);
      return;
    }
    if (pending_.empty()) {
      afterWriteProgress();
      return;
    }
  }
  std::unique_ptr<WriteRequest> request =
      spareRequest_ ? std::move(spareRequest_) : std::make_unique<WriteRequest>();
  request->stream = this;
  request->req.data = request.get();
  request->slices.swap(pending_);
  request->bufs.clear();
  for (const Slice& slice : request->slices) {
    request->bufs.push_back(uv_buf_init(const_cast<char*>(slice.data()), slice.size()));
  }
  request->bytes = pendingBytes_;
  const int rc = uv_write(&request->req, stream(), request->bufs.data(),
                          static_cast<unsigned>(request->bufs.size()), &TcpStream::onWrite);
  if (rc != 0) {
    pending_.swap(request->slices);
    spareRequest_ = std::move(request);
    failWrite(rc);
    return;
  }
  inflightBytes_ += pendingBytes_;
  pendingBytes_ = 0;
  ++inflightRequests_;
  request.release();  // owned by libuv until onWrite
}

void TcpStream::flushPrefix(size_t maxBytes) {
  if (maxBytes >= pendingBytes_) {
    flush();
    return;
  }
  if (maxBytes == 0 || state_ != State::kOpen || connecting_) return;
  // Hold the tail back, write the prefix, queue the tail again behind it.
  size_t keep = maxBytes;
  size_t i = 0;
  while (keep >= pending_[i].size()) keep -= pending_[i++].size();
  std::vector<Slice> tail;
  tail.reserve(pending_.size() - i + 1);
  if (keep > 0) {
    const Slice& straddling = pending_[i];
    tail.emplace_back(straddling.chunk(), straddling.offset() + static_cast<uint32_t>(keep),
                      straddling.size() - static_cast<uint32_t>(keep));
    pending_[i++].truncate(static_cast<uint32_t>(keep));
  }
  for (size_t j = i; j < pending_.size(); ++j) tail.push_back(std::move(pending_[j]));
  pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i), pending_.end());
  const size_t tailBytes = pendingBytes_ - maxBytes;
  pendingBytes_ = maxBytes;
  flush();
  if (state_ != State::kOpen || writeFailed_) return;  // failed: the tail is dropped with it
  for (Slice& slice : tail) pending_.push_back(std::move(slice));
  pendingBytes_ += tailBytes;
}

void TcpStream::consumeWritten(size_t bytes) {
  pendingBytes_ -= bytes;
  events_.onWritten(*this, bytes);
  size_t done = 0;
  while (bytes > 0) {
    Slice& front = pending_[done];
    if (front.size() <= bytes) {
      bytes -= front.size();
      ++done;
    } else {
      front.consumeFront(static_cast<uint32_t>(bytes));
      bytes = 0;
    }
  }
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(done));
}

void TcpStream::onWrite(uv_write_t* req, int status) {
  std::unique_ptr<WriteRequest> request(static_cast<WriteRequest*>(req->data));
  TcpStream* self = request->stream;
  const size_t bytes = request->bytes;
  self->inflightBytes_ -= bytes;
  --self->inflightRequests_;
  request->slices.clear();  // releases the chunks this write pinned
  if (!self->spareRequest_) self->spareRequest_ = std::move(request);
  if (status == UV_ECANCELED) return;  // closing
  if (status < 0) {
    self->failWrite(status);
    return;
  }
  self->events_.onWritten(*self, bytes);
  // Queued while this write was in flight: the next loop turn's flush writes it.
  if (!self->pending_.empty()) self->scheduleFlush();
  self->afterWriteProgress();
}

void TcpStream::afterWriteProgress() {
  if (wasFull_ && queuedBytes() < limits_.lowWater) {
    wasFull_ = false;
    events_.onDrained(*this);
  }
  finishIfFlushed();
}

void TcpStream::failWrite(int status) {
  if (writeFailed_) return;
  writeFailed_ = true;
  pending_.clear();
  pendingBytes_ = 0;
  stopReading();
  events_.onEnd(*this, status);
}

void TcpStream::finishIfFlushed() {
  if (state_ != State::kOpen || queuedBytes() != 0) return;
  if (wantClose_) {
    close();
  } else if (wantShutdown_ && !shutdownStarted_ && !connecting_) {
    shutdownStarted_ = true;
    shutdownReq_.data = this;
    if (uv_shutdown(&shutdownReq_, stream(), &TcpStream::onShutdown) != 0) close();
  }
}

void TcpStream::shutdownWhenFlushed() {
  wantShutdown_ = true;
  finishIfFlushed();
}

void TcpStream::closeWhenFlushed() {
  wantClose_ = true;
  stopReading();
  if (writeFailed_) {
    close();
    return;
  }
  finishIfFlushed();
}

void TcpStream::onConnect(uv_connect_t* req, int status) {
  auto* self = static_cast<TcpStream*>(req->data);
  self->connecting_ = false;
  if (status == UV_ECANCELED) return;
  self->events_.onConnected(*self, status);
  if (status == 0 && self->state_ == State::kOpen) {
    if (!self->pending_.empty()) {
      self->scheduleFlush();
    } else {
      self->finishIfFlushed();
    }
  }
}

void TcpStream::onShutdown(uv_shutdown_t* /*req*/, int /*status*/) {}

void TcpStream::close() {
  if (state_ != State::kOpen) return;
  state_ = State::kClosing;
  stopReading();
  pending_.clear();
  pendingBytes_ = 0;
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_), &TcpStream::onClose);
}

void TcpStream::onClose(uv_handle_t* handle) {
  auto* self = static_cast<TcpStream*>(handle->data);
  for (Chunk** chunk : {&self->readChunk_, &self->copyChunk_}) {
    if (*chunk != nullptr) releaseChunk(*chunk);
    *chunk = nullptr;
  }
  self->spareRequest_.reset();
  self->state_ = State::kClosed;
  self->events_.onClosed(*self);
}

}  // namespace redmirror::net
