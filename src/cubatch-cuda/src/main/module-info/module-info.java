/**
 * The CUDA backend of cubatch: a {@link io.cubatch.collate.BackendProvider} named {@code cuda}, found by
 * {@code ServiceLoader} when this module (artifact {@code io.cubatch:cubatch-cuda}) is on the module or class
 * path. It drives the CUDA driver API through JCuda, loads the kernels from the fatbin packaged here, and needs
 * the NVIDIA driver only (not the CUDA toolkit); without a driver, or with a GPU the fatbin does not cover, it
 * reports itself unavailable with the reason.
 *
 * <p>Run with {@code --enable-native-access=io.cubatch,io.cubatch.cuda} on the module path, or
 * {@code --enable-native-access=ALL-UNNAMED} on the class path.
 */
module io.cubatch.cuda {
    requires transitive io.cubatch;
    requires transitive jcuda;   // the cuda API takes and returns JCuda streams, events and pointers
    requires jcublas;

    exports io.cubatch.cuda;

    provides io.cubatch.collate.BackendProvider with io.cubatch.cuda.CudaBackendProvider;
}
