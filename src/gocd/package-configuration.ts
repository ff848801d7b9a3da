import { defineBodylessHandler } from './define-handler';
import { PACKAGE_PROPERTIES } from './properties';

/** Asked once at plugin load; a failure here unloads the plugin until GoCD restarts. */
export const packageConfiguration = defineBodylessHandler(() => PACKAGE_PROPERTIES);
