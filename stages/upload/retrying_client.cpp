#include "stages/upload/retrying_client.hpp"

namespace piperun::stages::upload {

Verdict judge(const io::HttpResponse& response) {
  const long status = response.status;
  if (status == 0) return Verdict::retry;  // no answer: refused, reset, timed out
  if (status == 429 || status == 503) return Verdict::throttled;
  if (status >= 500) return Verdict::retry;
  // S3 answers 400 RequestTimeout when the body came too slowly: sending again is the cure.
  if (status == 400 && response.body.find("<Code>RequestTimeout</Code>") != std::string::npos)
    return Verdict::retry;
  return Verdict::answered;
}

}  // namespace piperun::stages::upload
