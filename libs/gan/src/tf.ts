/**
 * The one place libs/gan imports TensorFlow.js from. tfjs-core alone registers
 * no gradients and no backend, so both are pulled in here: the cpu backend is
 * the universal fallback; faster ones are chosen by ./backend.
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';

export * as tf from '@tensorflow/tfjs-core';
