#include "tools/server/http_response.h"

#include <boost/beast/http/status.hpp>
#include <charconv>

namespace authledger::server {
namespace {

void AppendNumber(std::size_t n, std::string& out) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof(digits), n);
  out.append(digits, end.ptr);
}

}  // namespace

void AppendHttpResponse(const ApiResponse& r, unsigned version, bool keep_alive, std::string& out) {
  namespace http = boost::beast::http;
  // The status line as Beast writes it: the version's two digits, the code as three
  // digits, and Beast's reason phrase for it.
  out += "HTTP/";
  out += static_cast<char>('0' + version / 10);
  out += '.';
  out += static_cast<char>('0' + version % 10);
  out += ' ';
  const unsigned code = r.status;
  out += static_cast<char>('0' + code / 100 % 10);
  out += static_cast<char>('0' + code / 10 % 10);
  out += static_cast<char>('0' + code % 10);
  out += ' ';
  const auto reason = http::obsolete_reason(static_cast<http::status>(code));
  out.append(reason.data(), reason.size());
  out += "\r\nServer: authledger\r\nContent-Type: ";
  out += r.content_type;
  // keep_alive(): HTTP/1.0 keeps a connection open only when asked to, HTTP/1.1 unless
  // told to close it.
  if (version < 11 && keep_alive) out += "\r\nConnection: keep-alive";
  if (version >= 11 && !keep_alive) out += "\r\nConnection: close";
  out += "\r\nContent-Length: ";
  AppendNumber(r.body.size(), out);
  out += "\r\n\r\n";
  out += r.body;
}

}  // namespace authledger::server
