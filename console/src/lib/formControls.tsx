// Controls for Form.Items. antd's Form.Item gives a required field's control aria-required, which a Select or a
// Radio.Group puts on a <div> without a role, where ARIA does not allow it (axe: aria-allowed-attr); and antd's
// radio group has no radiogroup role at all. The label's mark still says a field is required, and the form checks it.
import { Radio, Select, type RadioGroupProps, type SelectProps } from "antd";

type Required = { "aria-required"?: boolean | "true" | "false" };

/** A Select: aria-required is dropped (a combobox inside states its own name; the div may not carry it). */
export function FormSelect(props: SelectProps & Required) {
  const { "aria-required": _notOnTheDiv, ...rest } = props;
  return <Select {...rest} />;
}

/** A Radio.Group inside a real radiogroup (which may say it is required): every radio group of the console. */
export function FormRadioGroup(props: RadioGroupProps & Required) {
  const { "aria-required": required, id, ...rest } = props;
  return (
    <div role="radiogroup" id={id} aria-required={required}>
      <Radio.Group {...rest} />
    </div>
  );
}
