package io.cubatch.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class SlotPoolTest {

    @Test
    void handsOutEachSlotOnceAndSaysWhenAllAreHeld() throws Exception {
        SlotPool pool = new SlotPool(3);
        assertEquals(0, pool.acquire(Duration.ZERO));
        assertEquals(1, pool.acquire(Duration.ZERO));
        assertEquals(2, pool.acquire(Duration.ZERO));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> pool.acquire(Duration.ofMillis(20)));
        assertTrue(e.getMessage().contains("all 3 ring slots are held"), e.getMessage());
        pool.release(1);
        assertEquals(1, pool.acquire(Duration.ZERO), "the freed slot comes back");
        assertEquals(3, pool.inUse());
        assertEquals(3, pool.maxInUse());
        assertEquals(4, pool.acquired());
        pool.release(0);
        IllegalStateException twice = assertThrows(IllegalStateException.class, () -> pool.release(0));
        assertTrue(twice.getMessage().contains("released twice"), twice.getMessage());
        assertThrows(IllegalStateException.class, () -> pool.release(7));
        assertThrows(IllegalArgumentException.class, () -> new SlotPool(0));
    }

    @Test
    void aReleaseWakesAWaiterAndCloseWakesAll() throws Exception {
        SlotPool pool = new SlotPool(1);
        pool.acquire(Duration.ZERO);
        ExecutorService ex = Executors.newFixedThreadPool(2);
        try {
            CountDownLatch started = new CountDownLatch(1);
            Future<Integer> waiter = ex.submit(() -> {
                started.countDown();
                return pool.acquire(Duration.ofSeconds(10));
            });
            started.await();
            Thread.sleep(50);
            pool.release(0);
            assertEquals(0, waiter.get(5, TimeUnit.SECONDS));
            Future<Integer> blocked = ex.submit(() -> pool.acquire(Duration.ofSeconds(10)));
            Thread.sleep(50);
            pool.close();
            Exception e = assertThrows(Exception.class, () -> blocked.get(5, TimeUnit.SECONDS));
            assertTrue(e.getCause() instanceof IllegalStateException && e.getCause().getMessage().contains("closed"),
                    String.valueOf(e.getCause()));
        } finally {
            ex.shutdownNow();
        }
    }

    @Test
    void neverMoreThanKOutUnderContention() throws Exception {
        int k = 2;
        SlotPool pool = new SlotPool(k);
        AtomicInteger out = new AtomicInteger();
        AtomicInteger worst = new AtomicInteger();
        boolean[] held = new boolean[k];
        ExecutorService ex = Executors.newFixedThreadPool(6);
        List<Future<?>> fs = new ArrayList<>();
        for (int t = 0; t < 6; t++) {
            fs.add(ex.submit(() -> {
                for (int i = 0; i < 2000; i++) {
                    int s = pool.acquire(Duration.ofSeconds(10));
                    synchronized (held) {
                        if (held[s]) {
                            throw new AssertionError("slot " + s + " handed out twice");
                        }
                        held[s] = true;
                    }
                    worst.accumulateAndGet(out.incrementAndGet(), Math::max);
                    out.decrementAndGet();
                    synchronized (held) {
                        held[s] = false;
                    }
                    pool.release(s);
                }
                return null;
            }));
        }
        for (Future<?> f : fs) {
            f.get(60, TimeUnit.SECONDS);
        }
        ex.shutdown();
        assertTrue(worst.get() <= k, "at most " + k + " out at once, saw " + worst.get());
        assertEquals(0, pool.inUse());
        assertEquals(12000, pool.acquired());
        assertTrue(pool.maxInUse() <= k);
    }
}
