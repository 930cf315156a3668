#include "pipeline/record.h"

#include <boost/json/value.hpp>

namespace elk::pipeline {

Record::Record(std::string_view type_text, std::string_view time_text, EpochMs ms, const boost::json::value& value)
    : type(type_of(type_text)), time_ms(ms) {
  auto own = std::make_shared<json_tape::RecordStorage>(type_text.size() + time_text.size());
  type_name = own->copy(type_text);
  time = own->copy(time_text);
  own->append(value);
  body = json_tape::JsonView(own->nodes.data());
  storage = std::move(own);
}

}  // namespace elk::pipeline
