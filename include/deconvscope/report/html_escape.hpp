// Escaping text for HTML element content and attribute values (& < > " ').
#pragma once

#include <string>

namespace ds {

std::string html_escape(const std::string& text);

}  // namespace ds
