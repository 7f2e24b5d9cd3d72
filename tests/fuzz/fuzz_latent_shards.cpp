// Latent shards: the input is split at its first "\n--\n" into a data .npy and a labels .npy,
// written as latents_0.npy or posteriors_0.npy (by the input's last byte) and labels_0.npy; the
// dataset is built and its first and last examples drawn.
#include <algorithm>

#include <sit/data/latent_shards.h>

#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::filesystem::path root = sit::fuzz::scratch_path("shards");
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root);
  const uint8_t separator[] = {'\n', '-', '-', '\n'};
  const uint8_t* split = std::search(data, data + size, separator, separator + sizeof separator);
  const bool posteriors = size > 0 && (data[size - 1] & 1);
  sit::fuzz::write_bytes((root / (posteriors ? "posteriors_0.npy" : "latents_0.npy")).string(), data,
                         static_cast<size_t>(split - data));
  const uint8_t* labels = std::min(split + sizeof separator, data + size);
  sit::fuzz::write_bytes((root / "labels_0.npy").string(), labels, static_cast<size_t>(data + size - labels));
  sit::fuzz::expect_clean([&] {
    sit::data::LatentShards shards(sit::data::LatentShardsOptions(root.string()).num_classes(10));
    std::mt19937_64 rng(0);
    shards.get(0, rng);
    shards.get(shards.size() - 1, rng);
  });
  return 0;
}
