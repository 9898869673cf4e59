#include "text_format.h"

#include <fmt/format.h>

namespace hil::evals::detail {

using google::protobuf::TextFormat;

void FirstError::AddError(int line, int column, const std::string& message) {
  if (first_.empty()) first_ = fmt::format("{}:{}:{}: {}", name_, line + 1, column + 1, message);
}

std::string parse_text(const std::string& text, const std::string& name,
                       google::protobuf::Message* msg, TextFormat::ParseInfoTree* tree) {
  TextFormat::Parser parser;
  FirstError errors(name);
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(tree);
  if (parser.ParseFromString(text, msg)) return "";
  return errors.first().empty()
             ? fmt::format("{}: does not parse as a {}", name, msg->GetDescriptor()->name())
             : errors.first();
}

int line_of(const TextFormat::ParseInfoTree* tree, const google::protobuf::Message& msg,
            const char* field, int index) {
  if (!tree) return 0;
  const auto* fd = msg.GetDescriptor()->FindFieldByName(field);
  if (!fd) return 0;
  auto loc = tree->GetLocation(fd, index);
  return loc.line + 1;
}

const TextFormat::ParseInfoTree* nested(const TextFormat::ParseInfoTree* tree,
                                        const google::protobuf::Message& msg, const char* field,
                                        int index) {
  if (!tree) return nullptr;
  const auto* fd = msg.GetDescriptor()->FindFieldByName(field);
  if (!fd) return nullptr;
  return tree->GetTreeForNested(fd, index);
}

}  // namespace hil::evals::detail
