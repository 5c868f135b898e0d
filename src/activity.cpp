#include "normgrad/activity.hpp"

#include <exception>
#include <vector>

namespace normgrad {

namespace {

thread_local std::vector<std::string> running;
thread_local std::string failed;

std::string joined() {
    std::string s;
    for (const std::string& a : running) s += (s.empty() ? "" : ", ") + a;
    return s;
}

}  // namespace

Activity::Activity(std::string what) : exceptions_at_start_(std::uncaught_exceptions()) {
    if (running.empty()) failed.clear();  // a new task at the outermost level
    running.push_back(std::move(what));
}

Activity::~Activity() {
    // Unwinding: the innermost activity records the whole chain; the outer ones keep it.
    if (std::uncaught_exceptions() > exceptions_at_start_ && failed.empty()) failed = joined();
    running.pop_back();
}

std::string failed_activity() {
    return failed;
}

std::string current_activity() {
    return joined();
}

}  // namespace normgrad
