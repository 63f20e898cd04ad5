import { Controller, Get, Inject, Res } from '@nestjs/common';
import { gzipSync } from 'node:zlib';
import { encodeIdx, resolveDataset, type Dataset, type ImageDataset } from '@duel/datasets';
import { nodeDatasetLoader } from '@duel/datasets-node';
import { ErrorCodes } from '@duel/util';
import { CoordinatorService } from './coordinator.service';
import { httpError } from './http-error';

/** The slice of express's response used here (@types/express is not a dependency). */
interface BinaryResponse {
  setHeader(name: string, value: string): void;
  end(body: Uint8Array): void;
}

/**
 * The run's stored training images for browser volunteers, which cannot read
 * the coordinator's files: one uint8 IDX array [N, H, W, C], gzipped (MNIST:
 * 47 MB of pixels, about 10 MB on the wire), encoded once. Only the run's own
 * dataset is served; ring8 and grid25 are generated in the page.
 */
@Controller('api')
export class DatasetController {
  private encoded: Promise<Uint8Array> | null = null;

  constructor(@Inject(CoordinatorService) private readonly svc: CoordinatorService) {}

  @Get('dataset')
  async dataset(@Res() res: BinaryResponse): Promise<void> {
    const name = this.svc.opts.run.dataset;
    if (name === 'ring8' || name === 'grid25') {
      throw httpError(404, ErrorCodes.BAD_ARGUMENT, `${name} is generated, not stored: volunteers build it themselves`);
    }
    this.encoded ??= resolveDataset(name, nodeDatasetLoader()).then(encodeImages);
    let body: Uint8Array;
    try {
      body = await this.encoded;
    } catch (e) {
      this.encoded = null;
      throw httpError(503, ErrorCodes.DATASET_MISSING, (e as Error).message);
    }
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Content-Encoding', 'gzip');
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Duel-Dataset', name);
    res.end(body);
  }
}

function encodeImages(d: Dataset): Uint8Array {
  if (d.kind !== 'image') throw new Error(`${d.name} is not an image dataset`);
  const img = d as ImageDataset;
  const [h, w, c] = img.shape;
  return gzipSync(encodeIdx({ dtype: 'uint8', dims: [img.size, h, w, c], data: img.pixels }), { level: 6 });
}
