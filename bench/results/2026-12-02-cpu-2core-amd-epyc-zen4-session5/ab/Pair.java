package io.cubatch.bench;
import io.cubatch.collate.Collator;
import io.cubatch.store.DType;
import java.util.Arrays;
/** Pair regime B src dtype variantA variantB [rounds]: alternating timing, median ratio of speeds A/B. */
public class Pair {
    public static void main(String[] a) throws Throwable {
        String regime = a[0]; int B = Integer.parseInt(a[1]);
        DType src = DType.fromName(a[2]).orElseThrow(), dt = DType.fromName(a[3]).orElseThrow();
        int wa = HonestCase.way(a[4]), wb = HonestCase.way(a[5]);
        int rounds = a.length > 6 ? Integer.parseInt(a[6]) : 300;
        Collator ca = HonestCase.collatorFor(wa), cb = HonestCase.collatorFor(wb);
        HonestCase c = new HonestCase(regime, B, src, dt, ca);
        int nb = c.batches.length; int per = Math.max(1, Math.min(nb, (int) (20_000_000L / (B * 400L))));
        double[] ratio = new double[rounds], ta = new double[rounds], tb = new double[rounds];
        int k = 0;
        for (int r = -rounds / 3; r < rounds; r++) {
            double sa = 0, sb = 0;
            for (int rep = 0; rep < 2; rep++) {
                boolean aFirst = ((r + rep) & 1) == 0;
                for (int w = 0; w < 2; w++) {
                    boolean doA = (w == 0) == aFirst;
                    int kk = k;
                    long t0 = System.nanoTime();
                    for (int i = 0; i < per; i++) { c.run(doA ? wa : wb, doA ? ca : cb, kk); kk = kk + 1 == nb ? 0 : kk + 1; }
                    long t = System.nanoTime() - t0;
                    if (doA) sa += t; else sb += t;
                }
            }
            k = (k + per) % nb;
            if (r >= 0) { ratio[r] = sb / sa; ta[r] = sa / (2.0 * per); tb[r] = sb / (2.0 * per); }
        }
        Arrays.sort(ratio); Arrays.sort(ta); Arrays.sort(tb);
        System.out.printf("%s B=%d %s->%s %s/%s speed ratio median %.3f [p10 %.3f p90 %.3f]; %s %.1f us, %s %.1f us per batch%n",
                regime, B, a[2], a[3], a[4], a[5], ratio[rounds / 2], ratio[rounds / 10], ratio[rounds * 9 / 10], a[4], ta[rounds / 2] / 1e3, a[5], tb[rounds / 2] / 1e3);
        ca.close(); cb.close(); c.close();
    }
}
