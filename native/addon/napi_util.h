// Helpers for the N-API surface: typed-array access with length checks and argument parsing that
// throws a JS error (never crashes) on bad input.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

#include "core/isa.h"

namespace kv::napi {

/** Throws a JS TypeError naming the argument. Use as `throw TypeError(env, "...")`. */
inline Napi::Error TypeError(Napi::Env env, const std::string& message) {
  return Napi::TypeError::New(env, message);
}

template <typename T>
struct ArrayTraits;
template <> struct ArrayTraits<float> { static constexpr napi_typedarray_type kType = napi_float32_array; static constexpr const char* kName = "Float32Array"; };
template <> struct ArrayTraits<int32_t> { static constexpr napi_typedarray_type kType = napi_int32_array; static constexpr const char* kName = "Int32Array"; };
template <> struct ArrayTraits<uint8_t> { static constexpr napi_typedarray_type kType = napi_uint8_array; static constexpr const char* kName = "Uint8Array"; };
template <> struct ArrayTraits<uint16_t> { static constexpr napi_typedarray_type kType = napi_uint16_array; static constexpr const char* kName = "Uint16Array"; };
template <> struct ArrayTraits<uint32_t> { static constexpr napi_typedarray_type kType = napi_uint32_array; static constexpr const char* kName = "Uint32Array"; };

struct Span {
  void* data;
  size_t length;  // elements
};

/** Data pointer of argument `index`, which must be a T typed array with at least `min_length` elements. */
template <typename T>
T* typed_array(const Napi::CallbackInfo& info, size_t index, const char* name, size_t min_length) {
  Napi::Env env = info.Env();
  if (index >= info.Length() || !info[index].IsTypedArray()) {
    throw TypeError(env, std::string(name) + ": expected " + ArrayTraits<T>::kName);
  }
  Napi::TypedArray arr = info[index].As<Napi::TypedArray>();
  if (arr.TypedArrayType() != ArrayTraits<T>::kType) {
    throw TypeError(env, std::string(name) + ": expected " + ArrayTraits<T>::kName);
  }
  if (arr.ElementLength() < min_length) {
    throw Napi::RangeError::New(env, std::string(name) + ": expected at least " + std::to_string(min_length) +
                                         " elements, got " + std::to_string(arr.ElementLength()));
  }
  Napi::ArrayBuffer buf = arr.ArrayBuffer();
  return reinterpret_cast<T*>(static_cast<uint8_t*>(buf.Data()) + arr.ByteOffset());
}

/** Byte view of any typed array / Buffer argument with at least min_bytes bytes. */
inline uint8_t* byte_array(const Napi::CallbackInfo& info, size_t index, const char* name, size_t min_bytes) {
  Napi::Env env = info.Env();
  if (index >= info.Length() || !info[index].IsTypedArray()) {
    throw TypeError(env, std::string(name) + ": expected a typed array or Buffer");
  }
  Napi::TypedArray arr = info[index].As<Napi::TypedArray>();
  if (arr.ByteLength() < min_bytes) {
    throw Napi::RangeError::New(env, std::string(name) + ": expected at least " + std::to_string(min_bytes) +
                                         " bytes, got " + std::to_string(arr.ByteLength()));
  }
  Napi::ArrayBuffer buf = arr.ArrayBuffer();
  return static_cast<uint8_t*>(buf.Data()) + arr.ByteOffset();
}

/** Integer argument in [lo, hi]. */
inline int64_t int_arg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t lo, int64_t hi) {
  Napi::Env env = info.Env();
  if (index >= info.Length() || !info[index].IsNumber()) throw TypeError(env, std::string(name) + ": expected a number");
  const double v = info[index].As<Napi::Number>().DoubleValue();
  if (!(v >= static_cast<double>(lo) && v <= static_cast<double>(hi)) || v != static_cast<double>(static_cast<int64_t>(v))) {
    throw Napi::RangeError::New(env, std::string(name) + ": expected an integer in [" + std::to_string(lo) + ", " +
                                         std::to_string(hi) + "], got " + std::to_string(v));
  }
  return static_cast<int64_t>(v);
}

inline double number_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (index >= info.Length() || !info[index].IsNumber()) throw TypeError(info.Env(), std::string(name) + ": expected a number");
  return info[index].As<Napi::Number>().DoubleValue();
}

/** ISA name argument ('portable' | 'avx2' | 'avx512'); throws if this CPU cannot run it. */
Isa isa_arg(const Napi::CallbackInfo& info, size_t index);

}  // namespace kv::napi
