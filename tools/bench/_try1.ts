import { backendsFigure } from './fig-backends';
import { machine } from './common';
void backendsFigure(machine(), true).then((r) => { console.log(r.section.markdown); process.exit(0); });
