// Named shared-memory segments (shm_open + mmap). "Managed" segments carry a header that counts
// their users per process, so the last one to close unlinks the name; raw segments are CPython's
// SharedMemory: no header, the creator unlinks.
#pragma once
#include <napi.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace mp {

// One mmap, owned jointly by its Segment and by every ArrayBuffer handed to JS over it, so no JS
// view can outlive the mapping.
struct Mapping {
  Mapping(void* base, size_t length) : base(base), length(length) {}
  ~Mapping();
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  void* base;
  size_t length;
};

struct SegmentHeader;

// True when no live process uses the managed segment `name` (also when it no longer exists). Only system calls:
// safe in the forked resource tracker.
bool SegmentUnused(const char* name);

class Segment : public Napi::ObjectWrap<Segment> {
 public:
  static Napi::Function Init(Napi::Env env);
  // The Segment behind a JS value, or a TypeError if it is not one / is closed.
  static Segment* From(const Napi::Value& value);
  // In a fork child: registers this process as a user of every managed segment it inherited, so
  // a segment the parent drops stays alive while the child still uses it.
  static void AdoptAfterFork();

  explicit Segment(const Napi::CallbackInfo& info);
  ~Segment() override;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::shared_ptr<Mapping>& mapping() const { return mapping_; }

 private:
  Napi::Value Buffer(const Napi::CallbackInfo& info);
  Napi::Value Name(const Napi::CallbackInfo& info);
  Napi::Value Size(const Napi::CallbackInfo& info);
  Napi::Value Closed(const Napi::CallbackInfo& info);
  Napi::Value Users(const Napi::CallbackInfo& info);
  Napi::Value Sent(const Napi::CallbackInfo& info);
  Napi::Value Received(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Unlink(const Napi::CallbackInfo& info);
  bool Release();
  bool ReleaseUse();
  static void ReleaseAllAtExit();

  std::string name_;
  std::shared_ptr<Mapping> mapping_;
  SegmentHeader* header_ = nullptr;  // null for raw segments
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool closed_ = false;
  bool in_table_ = true;
  int32_t user_pid_ = 0;
  Napi::Reference<Napi::ArrayBuffer> buffer_;
};

}  // namespace mp
