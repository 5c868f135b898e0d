// What the program is doing, so that a failure deep inside can say so: "out of memory while
// training, step 5". An Activity lives for the duration of a task; when an exception leaves it,
// the innermost activities it left are remembered for the message that reports the exception.
#pragma once

#include <string>

namespace normgrad {

class Activity {
  public:
    explicit Activity(std::string what);
    ~Activity();
    Activity(const Activity&) = delete;
    Activity& operator=(const Activity&) = delete;

  private:
    int exceptions_at_start_;
};

// The activities the last escaping exception left, outermost first ("training, step 5"), or "".
std::string failed_activity();
// The activities running now, outermost first, or "".
std::string current_activity();

}  // namespace normgrad
