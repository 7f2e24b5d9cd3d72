#pragma once
// A library error's message, for checks on what it says.

#include <exception>
#include <functional>
#include <string>

namespace sit::test {

// What `body` threw, or "(no exception)" when it returned.
inline std::string message_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const std::exception& error) {
    return error.what();
  }
  return "(no exception)";
}

}  // namespace sit::test
