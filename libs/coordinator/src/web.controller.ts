import { Controller, Get, Res } from '@nestjs/common';
import { resolve } from 'node:path';
import { ErrorCodes } from '@duel/util';
import { httpError } from './http-error';
import { webBuilt, webDistDir } from './web-assets';

/** The slice of express's response used here (@types/express is not a dependency). */
interface Response {
  setHeader(name: string, value: string): void;
  sendFile(path: string): void;
}

/** The two pages of apps/web: the dashboard at / and the volunteer page at /volunteer. */
@Controller()
export class WebController {
  private readonly dir = webDistDir();

  @Get()
  dashboard(@Res() res: Response): void {
    this.page(res, 'index.html');
  }

  @Get('volunteer')
  volunteer(@Res() res: Response): void {
    this.page(res, 'volunteer.html');
  }

  private page(res: Response, file: string): void {
    if (!webBuilt(this.dir)) {
      throw httpError(503, ErrorCodes.WEB_NOT_BUILT, `the web pages are not built in ${this.dir}: run \`npm run build:web\` (npm install does it)`);
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(resolve(this.dir, file));
  }
}
