/**
 * cubatch: batch plans, datasets, collation backends and the loader for JVM trainers. Exports the API
 * packages only; every {@code internal} package, the CLI ({@code io.cubatch.cli}) and the benchmarks
 * ({@code io.cubatch.bench}) stay inside. The collation backends are {@link io.cubatch.collate.BackendProvider}
 * services, so a backend in another module plugs in with {@code provides}.
 *
 * <p>JCuda is required only by the cuda backend, which checks for the driver before touching it; the JMH,
 * JFreeChart and Jackson databind modules only by the benchmarks ({@code requires static}).
 */
module io.cubatch {
    requires info.picocli;
    requires com.fasterxml.jackson.core;
    requires me.tongfei.progressbar;
    requires transitive jcuda;   // the cuda API takes and returns JCuda streams, events and pointers
    requires jcublas;
    requires static jmh.core;
    requires static org.jfree.jfreechart;
    requires static com.fasterxml.jackson.databind;
    requires static java.desktop;

    exports io.cubatch.plan;
    exports io.cubatch.store;
    exports io.cubatch.collate;
    exports io.cubatch.loader;
    exports io.cubatch.cuda;

    opens io.cubatch.cli to info.picocli;

    uses io.cubatch.collate.BackendProvider;

    provides io.cubatch.collate.BackendProvider with io.cubatch.collate.internal.NativeBackendProvider,
            io.cubatch.collate.internal.JavaBackendProvider, io.cubatch.cuda.CudaBackendProvider;
}
