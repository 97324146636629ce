"""A classical baseline for the enhancer: the noise suppressor of speexdsp's preprocessor.

speexdsp's preprocessor estimates the noise spectrum with minima tracking and applies a
spectral gain per band, the same kind of output (per-band gains) the learned enhancer produces,
so it is the natural non-learned reference point in evaluation tables. It is called through
ctypes on the system's libspeexdsp.so.1; nothing needs to be built.

The preprocessor works on 16-bit integer frames of a fixed size, in place. Here the frame is
10 ms (sample_rate // 100 samples) at the audio's own rate, 16 kHz and 48 kHz included (see
README.md for how it behaves at 48 kHz). Only the denoiser is enabled: AGC, VAD and dereverb
stay off, so the comparison is about noise suppression alone.

Its output lags its input by exactly one frame (its analysis window spans two frames; with the
suppression set to 0 dB the output is the input delayed by frame_size samples, to int16
precision). Sample-aligned metrics such as SI-SDR would charge that lag to the denoiser, so by
default the wrapper feeds one extra frame of silence and drops the first frame of output.
"""
import ctypes
import ctypes.util
from typing import Optional

import numpy as np

# Request codes from speex/speex_preprocess.h.
SPEEX_PREPROCESS_SET_DENOISE = 0
SPEEX_PREPROCESS_SET_NOISE_SUPPRESS = 18

_LIBRARY_NAME = "libspeexdsp.so.1"
_library: Optional[ctypes.CDLL] = None


def _load_library() -> ctypes.CDLL:
    """Load libspeexdsp once and declare the four entry points used here."""
    global _library
    if _library is None:
        try:
            library = ctypes.CDLL(_LIBRARY_NAME)
        except OSError:
            found = ctypes.util.find_library("speexdsp")
            if found is None:
                raise OSError(f"{_LIBRARY_NAME} not found; install libspeexdsp1") from None
            library = ctypes.CDLL(found)
        library.speex_preprocess_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
        library.speex_preprocess_state_init.restype = ctypes.c_void_p
        library.speex_preprocess_state_destroy.argtypes = [ctypes.c_void_p]
        library.speex_preprocess_state_destroy.restype = None
        library.speex_preprocess_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        library.speex_preprocess_ctl.restype = ctypes.c_int
        library.speex_preprocess_run.argtypes = [ctypes.c_void_p,
                                                 ctypes.POINTER(ctypes.c_int16)]
        library.speex_preprocess_run.restype = ctypes.c_int
        _library = library
    return _library


def _set_int(library: ctypes.CDLL, state: int, request: int, value: int) -> None:
    """speex_preprocess_ctl with a pointer to a 32-bit integer, as the header's SET requests
    expect."""
    argument = ctypes.c_int32(value)
    if library.speex_preprocess_ctl(state, request, ctypes.byref(argument)) != 0:
        raise RuntimeError(f"speex_preprocess_ctl rejected request {request} = {value}")


def speexdsp_denoise(audio_float: np.ndarray, sample_rate: int, suppress_db: int = -15,
                     compensate_delay: bool = True) -> np.ndarray:
    """Denoise float audio (nominally in [-1, 1]) with speexdsp; returns float32 of the same
    length.

    suppress_db is the maximum attenuation of noise (speexdsp's NOISE_SUPPRESS, negative dB).
    Samples are scaled to int16 with clipping, processed in 10 ms frames (the last one padded
    with zeros) and scaled back. A fresh state per call: the noise estimate starts from nothing,
    as it would at the start of a stream, so the first few hundred ms are barely suppressed.
    With compensate_delay (the default) the result is aligned with the input; without it, it
    is the raw stream output, one frame late.
    """
    audio = np.asarray(audio_float, dtype=np.float64)
    if audio.ndim != 1:
        raise ValueError(f"expected 1-D audio, got shape {audio.shape}")
    if sample_rate <= 0 or sample_rate % 100 != 0:
        raise ValueError(f"sample rate must be a positive multiple of 100 Hz, got {sample_rate}")
    frame_size = sample_rate // 100
    length = audio.shape[0]
    delay = frame_size if compensate_delay else 0
    frame_count = -(-(length + delay) // frame_size)
    samples = np.zeros(frame_count * frame_size, dtype=np.int16)
    samples[:length] = np.clip(np.round(audio * 32767.0), -32768, 32767).astype(np.int16)

    library = _load_library()
    state = library.speex_preprocess_state_init(frame_size, sample_rate)
    if not state:
        raise RuntimeError(f"speex_preprocess_state_init({frame_size}, {sample_rate}) failed")
    try:
        _set_int(library, state, SPEEX_PREPROCESS_SET_DENOISE, 1)
        _set_int(library, state, SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, int(suppress_db))
        frames = samples.reshape(frame_count, frame_size)  # a view: processed in place
        pointer_type = ctypes.POINTER(ctypes.c_int16)
        for frame in frames:
            library.speex_preprocess_run(state, frame.ctypes.data_as(pointer_type))
    finally:
        library.speex_preprocess_state_destroy(state)
    return samples[delay:delay + length].astype(np.float32) / np.float32(32767.0)
