// Turns failed system calls and misuse into JS exceptions that carry errno, its name and the call.
#pragma once
#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

namespace mp {

inline Napi::Error ErrnoError(Napi::Env env, const std::string& call, int err) {
  const char* name = uv_err_name(-err);
  Napi::Error error = Napi::Error::New(env, call + " failed: " + std::strerror(err) + " (" + name + ")");
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("code", Napi::String::New(env, name));
  error.Set("syscall", Napi::String::New(env, call));
  return error;
}

[[noreturn]] inline void ThrowErrno(Napi::Env env, const std::string& call, int err = errno) {
  throw ErrnoError(env, call, err);
}

// A failed system call away from JS (the resource tracker starting under a lock): the call as the
// JS error names it, apart from what(), whose text already carries the errno's.
struct CallFailed : std::system_error {
  CallFailed(int err, const std::string& failed_call) : std::system_error(err, std::generic_category(), failed_call), call(failed_call) {}
  std::string call;
};

[[noreturn]] inline void ThrowErrno(Napi::Env env, const CallFailed& failed) { throw ErrnoError(env, failed.call, failed.code().value()); }

[[noreturn]] inline void ThrowType(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, message);
}

// Reads an integer argument, refusing anything that is not a finite number.
inline int64_t IntArg(const Napi::CallbackInfo& info, size_t index, const char* what) {
  if (index >= info.Length() || !info[index].IsNumber()) ThrowType(info.Env(), std::string(what) + " must be a number");
  return info[index].As<Napi::Number>().Int64Value();
}

}  // namespace mp
