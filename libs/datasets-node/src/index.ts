export { readIdxFile } from './idx-file';
export { clearIdxCache, loadIdxImageDataset, type Split } from './idx-dataset.loader';
export { encodePgm, parsePgm, type PgmImage } from './pgm';
export { loadPgmFolder } from './folder.loader';
export { FASHION_MNIST_DIR, loadDataset, mnistDataDir, nodeDatasetLoader, type LoadOptions } from './load-dataset';
