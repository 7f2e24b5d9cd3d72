#pragma once
// Which FID Inception a score comes from: its weights and the input mode that feeds it, what a
// reference's statistics must have been made with. sit-eval (stats, compare, features) and
// sit-train --eval-every (train::EvalConfig) hold this group, so --inception and --input-mode are
// declared here once.

#include <sit/config/fields.h>
#include <sit/eval/inception_input.h>

#include <string>

namespace sit::eval {

struct InceptionConfig {
  std::string inception;  // pytorch-fid's pt_inception-2015-12-05-6726825d.pth
  InputMode input_mode = InputMode::ADM;

  template <typename Self, typename Field>
  static void fields(Self& self, Field&& field) {
    field("inception", self.inception,
          "the FID Inception weights: pytorch-fid's pt_inception-2015-12-05-6726825d.pth");
    field("input_mode", self.input_mode,
          "how images reach the network: adm (TensorFlow 1's resize, as the ADM evaluator) or pytorch-fid "
          "(torch's bilinear resize); numbers of the two modes are not comparable");
  }

  /// Throws ConfigError when no weights file is given. (A missing file is reported by
  /// load_fid_inception, with where to get it.)
  void validate() const;
};

}  // namespace sit::eval
