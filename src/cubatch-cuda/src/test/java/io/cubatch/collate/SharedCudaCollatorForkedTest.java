package io.cubatch.collate;

import io.cubatch.cuda.GpuTestSupport;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * SharedCollatorForkedTest for the cuda backend: two threads on one CudaCollator are refused, not run into
 * one ring. Tagged gpu: it runs under the CUDA driver emulator (the forked JVM inherits its environment)
 * and on a real GPU.
 */
@Tag("gpu")
@ExtendWith(GpuTestSupport.class)
class SharedCudaCollatorForkedTest {

    @Test
    void twoThreadsOnOneCudaCollatorAreRefusedNotCrashed(@TempDir Path dir) throws IOException, InterruptedException {
        SharedCollatorForkedTest.assertRefusedNotCrashed("cuda", dir);
    }
}
