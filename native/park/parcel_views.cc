// Parcel views for the main addon (native/memfd.cc, whose C interface this finds by dlsym): a
// Buffer over a parcel's pages whose V8 backing store lets the parcel go when V8 frees it, at a GC.
// Node runs an N-API finalizer only later, from the event loop, so a caller that loops on blocking
// pool calls let go of none, and its pool's workers filled fresh parcels (fresh pages) for results.
#include "parcel_views.h"

#include <dlfcn.h>
#include <node_buffer.h>

#include <atomic>
#include <memory>

#include "../memfd_api.h"
#include "js_errors.h"

using mp::park::Throw;

namespace {

// Bound once, read by every thread that receives parcels (ThreadPool threads) and V8's deleters.
std::atomic<MpjsParcelOpen> parcel_open{nullptr};
std::atomic<MpjsParcelClose> parcel_close{nullptr};

// bindParcels(addonPath) -> whether the main addon loaded from addonPath (never another copy: it
// must be loaded already) has the parcel interface.
void BindParcelsJs(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  if (args.Length() < 1 || !args[0]->IsString()) return Throw(isolate, "bindParcels: addonPath must be a string");
  const v8::String::Utf8Value path(isolate, args[0]);
  // Kept open: the functions below stay where they are.
  void* addon = dlopen(*path, RTLD_NOW | RTLD_NOLOAD);
  if (addon != nullptr && parcel_open.load() == nullptr) {
    auto open_fn = reinterpret_cast<MpjsParcelOpen>(dlsym(addon, MPJS_PARCEL_OPEN));
    auto close_fn = reinterpret_cast<MpjsParcelClose>(dlsym(addon, MPJS_PARCEL_CLOSE));
    // close first: a thread that sees open sees close too.
    if (open_fn != nullptr && close_fn != nullptr) parcel_close.store(close_fn), parcel_open.store(open_fn);
  }
  args.GetReturnValue().Set(parcel_open.load() != nullptr);
}

// V8 frees backing stores at a GC, possibly on a thread of its platform: mpjs_parcel_close is safe there.
void ReleaseParcel(void*, size_t, void* token) { parcel_close.load()(token, 1); }

// mapParcel(fd, copy = false): as the main addon's mapFd (a view of the parcel's pages, or a copy),
// the parcel let go when V8 frees the view. The caller closes fd.
void MapParcelJs(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  const MpjsParcelOpen open_fn = parcel_open.load();
  if (open_fn == nullptr) return Throw(isolate, "mapParcel: bindParcels() found no parcel interface");
  if (args.Length() < 1 || !args[0]->IsInt32() || args[0].As<v8::Int32>()->Value() < 0) return Throw(isolate, "mapParcel: fd must be a non-negative integer");
  const bool copy = args.Length() > 1 && args[1]->BooleanValue(isolate);
  MpjsParcel parcel;
  char error[256];
  if (open_fn(args[0].As<v8::Int32>()->Value(), copy ? 1 : 0, &parcel, error, sizeof(error)) != 0) return Throw(isolate, error);
  if (!parcel.viewed) {
    v8::MaybeLocal<v8::Object> bytes = node::Buffer::Copy(isolate, reinterpret_cast<const char*>(parcel.data), parcel.length);
    parcel_close.load()(parcel.token, 0);
    if (!bytes.IsEmpty()) args.GetReturnValue().Set(bytes.ToLocalChecked());
    return;
  }
  std::unique_ptr<v8::BackingStore> store = v8::ArrayBuffer::NewBackingStore(const_cast<uint8_t*>(parcel.data), parcel.length, ReleaseParcel, parcel.token);
  v8::Local<v8::ArrayBuffer> pages = v8::ArrayBuffer::New(isolate, std::move(store));
  v8::MaybeLocal<v8::Uint8Array> view = node::Buffer::New(isolate, pages, 0, parcel.length);
  if (!view.IsEmpty()) args.GetReturnValue().Set(view.ToLocalChecked());
}

}  // namespace

void InitParcelViews(v8::Local<v8::Object> exports) {
  NODE_SET_METHOD(exports, "bindParcels", BindParcelsJs);
  NODE_SET_METHOD(exports, "mapParcel", MapParcelJs);
}
