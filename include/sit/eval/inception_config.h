#pragma once
// How sit-eval (stats, compare, features) runs the FID Inception: its weights, the input mode that
// feeds it and the batch size. A program binds these fields to flags (--inception, --input-mode,
// --batch-size) and calls validate().

#include <sit/config/fields.h>
#include <sit/eval/inception_input.h>

#include <string>

namespace sit::eval {

struct InceptionConfig {
  std::string inception;  // pytorch-fid's pt_inception-2015-12-05-6726825d.pth
  InputMode input_mode = InputMode::ADM;
  int64_t batch_size = 50;

  template <typename Self, typename Field>
  static void fields(Self& self, Field&& field) {
    field("inception", self.inception,
          "the FID Inception weights: pytorch-fid's pt_inception-2015-12-05-6726825d.pth");
    field("input_mode", self.input_mode,
          "how images reach the network: adm (TensorFlow 1's resize, as the ADM evaluator) or pytorch-fid "
          "(torch's bilinear resize); numbers of the two modes are not comparable");
    field("batch_size", self.batch_size, "images per Inception forward");
  }

  /// Throws ConfigError: no weights file given, or a batch size below 1. (A missing file is
  /// reported by load_fid_inception, with where to get it.)
  void validate() const;
};

}  // namespace sit::eval
