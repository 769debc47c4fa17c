// Parcel views for the main addon (native/memfd.cc, whose C interface this finds by dlsym): a
// Buffer over a parcel's pages whose V8 backing store lets the parcel go when V8 frees it, at a GC.
// Node runs an N-API finalizer only later, from the event loop, so a caller that loops on blocking
// pool calls let go of none, and its pool's workers filled fresh parcels (fresh pages) for results.
#include "parcel_views.h"

#include <dlfcn.h>
#include <node_buffer.h>

#include <memory>

#include "../memfd_api.h"
#include "js_errors.h"

namespace {

MpjsParcelOpen parcel_open = nullptr;
MpjsParcelClose parcel_close = nullptr;

// bindParcels(addonPath) -> whether the main addon loaded from addonPath (never another copy: it
// must be loaded already) has the parcel interface.
void BindParcelsJs(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  if (args.Length() < 1 || !args[0]->IsString()) return Throw(isolate, "bindParcels: addonPath must be a string");
  const v8::String::Utf8Value path(isolate, args[0]);
  // Kept open: the functions below stay where they are.
  void* addon = dlopen(*path, RTLD_NOW | RTLD_NOLOAD);
  if (addon != nullptr && parcel_open == nullptr) {
    auto open = reinterpret_cast<MpjsParcelOpen>(dlsym(addon, MPJS_PARCEL_OPEN));
    auto close = reinterpret_cast<MpjsParcelClose>(dlsym(addon, MPJS_PARCEL_CLOSE));
    if (open != nullptr && close != nullptr) parcel_open = open, parcel_close = close;
  }
  args.GetReturnValue().Set(parcel_open != nullptr);
}

// V8 frees backing stores at a GC, possibly on a thread of its platform: mpjs_parcel_close is safe there.
void ReleaseParcel(void*, size_t, void* token) { parcel_close(token, 1); }

// mapParcel(fd, copy = false): as the main addon's mapFd (a view of the parcel's pages, or a copy),
// the parcel let go when V8 frees the view. The caller closes fd.
void MapParcelJs(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  if (parcel_open == nullptr) return Throw(isolate, "mapParcel: bindParcels() found no parcel interface");
  if (args.Length() < 1 || !args[0]->IsInt32() || args[0].As<v8::Int32>()->Value() < 0) return Throw(isolate, "mapParcel: fd must be a non-negative integer");
  const bool copy = args.Length() > 1 && args[1]->BooleanValue(isolate);
  MpjsParcel parcel;
  char error[256];
  if (parcel_open(args[0].As<v8::Int32>()->Value(), copy ? 1 : 0, &parcel, error, sizeof(error)) != 0) return Throw(isolate, error);
  if (!parcel.viewed) {
    v8::MaybeLocal<v8::Object> bytes = node::Buffer::Copy(isolate, reinterpret_cast<const char*>(parcel.data), parcel.length);
    parcel_close(parcel.token, 0);
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
