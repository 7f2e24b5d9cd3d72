#include <sit/eval/inception_config.h>

namespace sit::eval {

void InceptionConfig::validate() const {
  config::require(!inception.empty(), "inception", "",
                  "is needed: pytorch-fid's pt_inception-2015-12-05-6726825d.pth, the FID Inception weights");
}

}  // namespace sit::eval
