package io.cubatch.plan;

import java.util.ArrayList;
import java.util.List;

/**
 * A literal transcription of PyTorch's unshuffled {@code DistributedSampler(num_replicas=W, rank=r,
 * shuffle=False, drop_last=samplerDropLast)} feeding {@code DataLoader(batch_size=B,
 * drop_last=loaderDropLast)} (torch/utils/data/distributed.py and sampler.py BatchSampler), materialised
 * as lists: the oracle the plan is compared with.
 */
final class TorchReference {
    private TorchReference() {
    }

    static List<List<Long>> batches(int n, int w, int r, int b, boolean samplerDropLast, boolean loaderDropLast) {
        int numSamples;
        if (samplerDropLast && n % w != 0) {
            numSamples = (int) Math.ceil((double) (n - w) / w); // math.ceil((len - R) / R)
            numSamples = Math.max(numSamples, 0);
        } else {
            numSamples = (int) Math.ceil((double) n / w);
        }
        int total = numSamples * w;
        List<Long> indices = new ArrayList<>();
        for (long i = 0; i < n; i++) {
            indices.add(i);
        }
        if (!samplerDropLast) {
            int pad = total - indices.size();
            if (pad <= indices.size()) {
                indices.addAll(new ArrayList<>(indices.subList(0, pad)));
            } else {
                List<Long> repeated = new ArrayList<>();
                int times = (int) Math.ceil((double) pad / indices.size());
                for (int t = 0; t < times; t++) {
                    repeated.addAll(indices);
                }
                indices.addAll(repeated.subList(0, pad));
            }
        } else {
            indices = new ArrayList<>(indices.subList(0, total));
        }
        List<Long> mine = new ArrayList<>();
        for (int i = r; i < total; i += w) {
            mine.add(indices.get(i));
        }
        List<List<Long>> out = new ArrayList<>();
        for (int i = 0; i < mine.size(); i += b) {
            List<Long> batch = mine.subList(i, Math.min(i + b, mine.size()));
            if (batch.size() < b && loaderDropLast) {
                break;
            }
            out.add(new ArrayList<>(batch));
        }
        return out;
    }
}
