// Parsing text-format Protobuf with errors that name file, line and column,
// and finding the line of a field for validation errors (suites, model
// interfaces). Private to evals.
#pragma once

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <string>

namespace hil::evals::detail {

class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  explicit FirstError(std::string name) : name_(std::move(name)) {}
  void AddError(int line, int column, const std::string& message) override;
  void AddWarning(int, int, const std::string&) override {}
  const std::string& first() const { return first_; }

 private:
  std::string name_;
  std::string first_;
};

// Parses `text` into `msg`, recording field locations into `tree`; returns
// the first error ("NAME:LINE:COLUMN: message"), or "" on success.
std::string parse_text(const std::string& text, const std::string& name,
                       google::protobuf::Message* msg,
                       google::protobuf::TextFormat::ParseInfoTree* tree);

// The 1-based line of `field` (element `index` of a repeated field) of `msg`
// as parsed into `tree`, or 0 when unknown.
int line_of(const google::protobuf::TextFormat::ParseInfoTree* tree,
            const google::protobuf::Message& msg, const char* field, int index = -1);

// The tree of a nested message field (element `index`), or nullptr.
const google::protobuf::TextFormat::ParseInfoTree* nested(
    const google::protobuf::TextFormat::ParseInfoTree* tree, const google::protobuf::Message& msg,
    const char* field, int index = -1);

}  // namespace hil::evals::detail
