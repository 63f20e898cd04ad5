export { isFiniteDataset, sampleSize, type Dataset, type FiniteDataset } from './dataset';
export { createGaussianMixture, type MixtureDataset, type Point2 } from './gaussian-mixture';
export { ring8, RING8_CENTRES, RING8_SIGMA } from './ring8.dataset';
export { grid25, GRID25_CENTRES, GRID25_SIGMA } from './grid25.dataset';
export { encodeIdx, parseIdx, type IdxArray, type IdxDtype } from './idx';
export { createImageDataset, imageDatasetFromIdx, scalePixel, type ImageDataset } from './image.dataset';
export { createShardSampler, type ShardOptions, type ShardSampler } from './shard-sampler';
export { datasetNames, parseDatasetName, resolveDataset, type DatasetLoader, type DatasetRef } from './registry';
