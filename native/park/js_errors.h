// JS errors for the park addon, shaped as the main addon's (errors.h): a message, or errno, its
// name as code, and the call that failed.
#pragma once
#include <node.h>
#include <uv.h>

#include <cstring>
#include <string>

namespace mp::park {

inline v8::Local<v8::String> Text(v8::Isolate* isolate, const std::string& text) {
  return v8::String::NewFromUtf8(isolate, text.c_str()).ToLocalChecked();
}

inline void Throw(v8::Isolate* isolate, const std::string& message) { isolate->ThrowException(v8::Exception::Error(Text(isolate, message))); }

// As the main addon's errors (errors.h): errno, its name as code, and the call that failed.
inline void ThrowErrno(v8::Isolate* isolate, const std::string& call, int err) {
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  const std::string name = uv_err_name(-err);
  v8::Local<v8::Object> error =
      v8::Exception::Error(Text(isolate, call + " failed: " + strerror(err) + " (" + name + ")")).As<v8::Object>();
  error->Set(context, Text(isolate, "errno"), v8::Integer::New(isolate, err)).Check();
  error->Set(context, Text(isolate, "code"), Text(isolate, name)).Check();
  error->Set(context, Text(isolate, "syscall"), Text(isolate, call)).Check();
  isolate->ThrowException(error);
}

}  // namespace mp::park
