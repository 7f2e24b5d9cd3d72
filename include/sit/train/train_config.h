#pragma once
// Everything a training run is made of, in groups: train.py's flags plus what a C++ run adds. It
// is saved in every checkpoint (under "args", one flat dict as train.py's vars(args)) so a run can
// be resumed and its model read back by sit-sample.

#include <sit/config/fields.h>
#include <sit/nn/model_config.h>
#include <sit/nn/runtime_config.h>
#include <sit/repa/repa.h>
#include <sit/train/data_config.h>
#include <sit/train/eval_config.h>
#include <sit/train/optim_config.h>
#include <sit/train/run_config.h>
#include <sit/transport/mean_flow.h>
#include <sit/transport/transport.h>

#include <string>

namespace sit::train {

struct TrainConfig {
  nn::ModelConfig model;
  DataConfig data;
  transport::TransportOptions transport;
  transport::MeanFlowOptions mean_flow;  // the loss of a model with meanflow (SiTOptions)
  OptimConfig optim;
  repa::RepaOptions repa;
  RunConfig run;
  EvalConfig eval;
  nn::RuntimeConfig runtime;

  template <typename Self, typename Field>
  static void fields(Self& self, Field&& field) {
    config::for_each_field(field, self.model, self.data, self.transport, self.mean_flow, self.optim, self.repa, self.run,
                           self.eval, self.runtime);
  }

  /// Every group's validate(), and a MeanFlow model's transport (Linear, velocity) and null label
  /// (a guided target).
  void validate() const;

  /// The configuration as a flat JSON object (every field; enums by name, unset eps as null).
  std::string to_json() const;
  /// Reads to_json's output; fields it lacks keep their defaults; an unknown field or a bad value
  /// is a ConfigError naming it.
  static TrainConfig from_json(const std::string& json);

  /// Whether a resume may change the setting `key`: the run's length (epochs, max_steps), the
  /// data loading threads, and every setting of the run, evaluation and runtime groups (cadence,
  /// outputs, sample grids, devices). The others (model, data, transport, optimisation) are the
  /// saved run's.
  static bool per_run(const std::string& key);

  /// The run a resume continues: the per_run settings from this configuration (the command
  /// line), every other from `saved`.
  TrainConfig resumed_from(const TrainConfig& saved) const;
};

}  // namespace sit::train
